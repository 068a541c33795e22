-- POSTs a small JSON body, like a webhook, to measure the sink's ceiling.
wrk.method = "POST"
wrk.body = '{"entry_id":1,"content_id":"c1","platform":"sink",' ..
    '"attempt":1,"content":{"text":"hello"}}'
wrk.headers["Content-Type"] = "application/json"
