-- wrk script: sends the pre-signed requests of a file (`query<TAB>X-Nonce` lines, from
-- `loadgen --emit`), each once, to one route. Used by `bench/server-throughput.sh --wrk`.
--   wrk -t1 -c32 -d1s -s bench/wrk-presigned.lua http://127.0.0.1:PORT -- /route/path FILE
-- When the file runs out, every further request is one the server refuses whatever the route
-- (a path outside the unverified mirror, without a credential: 401 from the layer); wrk counts
-- them as non-2xx and the script rejects the run. (Resending the last request would be
-- refused as a replay on the verified route only: the unverified mirror answers a copy 200.)
local requests, sent = {}, 0
local exhausted = wrk.format("GET", "/_bench/out-of-presigned-requests")

function init(args)
  local path, file = args[1], args[2]
  for line in io.lines(file) do
    local query, x_nonce = line:match("^(.-)\t(.*)$")
    requests[#requests + 1] = wrk.format("GET", path .. "?" .. query, { ["X-Nonce"] = x_nonce })
  end
end

function request()
  if sent >= #requests then
    return exhausted
  end
  sent = sent + 1
  return requests[sent]
end
