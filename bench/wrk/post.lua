-- POSTs one JSON body on every request and prints a JSON summary line at the end.
-- Usage: wrk ... -s bench/wrk/post.lua URL -- BODY_FILE [AUTHORIZATION]
-- The summary line starts with "BENCH_JSON " (latencies in microseconds, as wrk measures them: from the
-- request's first byte written to the answer's last byte read).

function init(args)
   local file = assert(io.open(args[1], "rb"))
   wrk.body = file:read("*a")
   file:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   if args[2] ~= nil and args[2] ~= "" then
      wrk.headers["Authorization"] = args[2]
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local parts = {
      string.format('"requests":%d', summary.requests),
      string.format('"duration_us":%d', summary.duration),
      string.format('"bytes":%d', summary.bytes),
      string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
         e.connect, e.read, e.write, e.status, e.timeout),
      string.format('"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}',
         latency.min, latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
         latency:percentile(99), latency:percentile(99.9)),
   }
   io.write("BENCH_JSON {" .. table.concat(parts, ",") .. "}\n")
end
