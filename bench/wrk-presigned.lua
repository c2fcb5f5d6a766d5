-- wrk script: sends the pre-signed requests of a file (`query<TAB>X-Nonce` lines, from
-- `loadgen --emit`), each once, to one route. Used by `bench/server-throughput.sh --wrk`.
--   wrk -t1 -c32 -d1s -s bench/wrk-presigned.lua http://127.0.0.1:PORT -- /route/path FILE
-- When the file runs out the last request is sent again; the server refuses the copies
-- (409 on a verified route), wrk counts them as non-2xx, and the script rejects the run.
local requests, sent = {}, 0

function init(args)
  local path, file = args[1], args[2]
  for line in io.lines(file) do
    local query, x_nonce = line:match("^(.-)\t(.*)$")
    requests[#requests + 1] = wrk.format("GET", path .. "?" .. query, { ["X-Nonce"] = x_nonce })
  end
end

function request()
  if sent < #requests then
    sent = sent + 1
  end
  return requests[sent]
end
