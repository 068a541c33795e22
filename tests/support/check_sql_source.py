#!/usr/bin/env python3
"""Checks that the C files of a directory build no SQL at run time.

Every SQL text must be a compile-time constant: a string literal, string
literals joined with macros that are themselves literals (such as
"SELECT " SQLITE_ENTRY_COLUMNS " FROM entries"), or a name declared
`const char NAME[]` / `const char *NAME` (a constant or the parameter of
a wrapper that passes such a constant on). Values travel as bound
parameters only. Reported as violations:

  - any printf-style SQL builder of SQLite (sqlite3_mprintf,
    sqlite3_vmprintf, sqlite3_snprintf, sqlite3_str_*) or asprintf;
  - snprintf/vsnprintf whose format string contains an SQL keyword;
  - strcat/strncat/memcpy into a buffer whose name contains "sql" or
    "query";
  - a non-const variable named like SQL (char *sql, char sql[...]);
  - a call that runs SQL (sqlite3_prepare*, sqlite3_exec, PQexec,
    PQexecParams, PQprepare, PQsendQuery*, and the store's wrappers
    sqlite_stmt, pg_query, pg_exec, pg_exec_count) whose SQL argument is
    neither a literal nor a const name declared in the same file.

usage: check_sql_source.py DIR...   (exit 1 and a list when violations)
"""

import pathlib
import re
import sys

BUILDERS = re.compile(
    r"\b(sqlite3_v?mprintf|sqlite3_snprintf|sqlite3_str_\w+|v?asprintf)\s*\(")
FORMAT_SQL = re.compile(
    r"\bv?snprintf\s*\([^;]*?\"[^\"]*\b(SELECT|INSERT|UPDATE|DELETE|WHERE|"
    r"VALUES|CREATE|DROP|ALTER)\b", re.S)
CONCAT_SQL = re.compile(
    r"\b(strn?cat|memcpy|memmove)\s*\(\s*[\w>.-]*(sql|query)\w*", re.I)
MUTABLE_SQL = re.compile(
    r"(?<!const )\bchar\s*\*?\s*(\w*(sql|query)\w*)\s*[\[=;,)]", re.I)

# Function name: index of the SQL argument.
RUNNERS = {
    "sqlite3_prepare": 1, "sqlite3_prepare_v2": 1, "sqlite3_prepare_v3": 1,
    "sqlite3_exec": 1, "PQexec": 1, "PQexecParams": 1, "PQprepare": 2,
    "PQsendQuery": 1, "PQsendQueryParams": 1, "PQsendPrepare": 2,
    "sqlite_stmt": 2, "pg_query": 2, "pg_exec": 2, "pg_exec_count": 2,
}
CALL = re.compile(r"\b(" + "|".join(RUNNERS) + r")\s*\(")
DECLARATION = re.compile(
    r"^(const\s+)?(struct\s+)?\w+(\s+|\s*\*\s*)\w+$")
LITERAL = re.compile(r'^(\s*("([^"\\]|\\.)*"|[A-Z][A-Z0-9_]*)\s*)+$', re.S)


def strip_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*",
                  lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)


def arguments(text, start):
    """Splits the argument list that starts after the '(' at start."""
    depth, current, result, i = 0, "", [], start
    in_string = False
    while i < len(text):
        c = text[i]
        if in_string:
            current += c
            if c == "\\":
                current += text[i + 1]
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            current += c
        elif c in "([{":
            depth += 1
            current += c
        elif c in ")]}":
            if depth == 0:
                result.append(current.strip())
                return result
            depth -= 1
            current += c
        elif c == "," and depth == 0:
            result.append(current.strip())
            current = ""
        else:
            current += c
        i += 1
    return result


def const_names(text):
    names = set(re.findall(r"\bconst\s+char\s+(\w+)\s*\[", text))
    names |= set(re.findall(r"\bconst\s+char\s*\*\s*(?:const\s+)?(\w+)", text))
    return names


def check_file(path):
    text = strip_comments(path.read_text(encoding="utf-8"))
    line_of = lambda pos: text.count("\n", 0, pos) + 1
    problems = []
    for pattern, what in ((BUILDERS, "builds SQL with a printf function"),
                          (FORMAT_SQL, "formats SQL with snprintf"),
                          (CONCAT_SQL, "concatenates into an SQL buffer"),
                          (MUTABLE_SQL, "SQL in a non-const variable")):
        for match in pattern.finditer(text):
            problems.append(f"{path}:{line_of(match.start())}: {what}: "
                            f"{match.group(0).strip()[:80]}")

    constants = const_names(text)
    for match in CALL.finditer(text):
        args = arguments(text, match.end())
        index = RUNNERS[match.group(1)]
        if len(args) <= index:
            continue
        sql = args[index]
        if DECLARATION.match(sql):
            continue  # the definition or prototype of a runner
        if LITERAL.match(sql) or sql in constants:
            continue
        if re.fullmatch(r"[\w>.-]+", sql) and \
                re.sub(r".*(->|\.)", "", sql) in constants:
            continue
        problems.append(f"{path}:{line_of(match.start())}: "
                        f"{match.group(1)} runs SQL from {sql[:60]!r}, "
                        f"which is not a constant")
    return problems


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: check_sql_source.py DIR...")
    problems = []
    files = 0
    for directory in sys.argv[1:]:
        for path in sorted(pathlib.Path(directory).glob("*.c")):
            files += 1
            problems += check_file(path)
    for problem in problems:
        print(problem)
    print(f"checked {files} files: {len(problems)} violations")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
