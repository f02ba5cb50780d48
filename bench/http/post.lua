-- wrk: POST a small GraphQL query as JSON.
wrk.method = "POST"
wrk.body = '{"query":"{ hello }"}'
wrk.headers["Content-Type"] = "application/json"
