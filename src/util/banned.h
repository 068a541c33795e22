/*
 * Turns calls to unsafe string and number functions into compile errors.
 * Include it last in every .c file, after all system headers.
 */
#ifndef PUBQ_BANNED_H
#define PUBQ_BANNED_H

#define PUBQ_BANNED(func) sorry_##func##_is_banned_in_pubq

#undef strcpy
#define strcpy(...) PUBQ_BANNED(strcpy)
#undef strcat
#define strcat(...) PUBQ_BANNED(strcat)
#undef sprintf
#define sprintf(...) PUBQ_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) PUBQ_BANNED(vsprintf)
#undef gets
#define gets(...) PUBQ_BANNED(gets)
#undef atoi
#define atoi(...) PUBQ_BANNED(atoi)
#undef atol
#define atol(...) PUBQ_BANNED(atol)
#undef strtok
#define strtok(...) PUBQ_BANNED(strtok)

#endif
