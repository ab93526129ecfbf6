-- wrk script: replays prepared requests, each line of $BENCH_REQUESTS used once
-- ("METHOD\tPATH\tHEADER\tVALUE\tCONTENT-TYPE\tBODY"). Threads take every Nth line. Requests are
-- built in init(), before wrk starts its clock, and there is no response() callback (wrk would
-- hand every answer's headers to Lua): the load generator shares the machine with the stack it
-- measures, so it should cost as little as /hello's plain wrk. Answers are counted by wrk
-- itself ("Non-2xx or 3xx responses"); done() prints what was sent, so the caller can compare
-- answered votes with the database. When a thread runs out it sends GET /healthz, counted apart.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  requests = {}
  local stride = tonumber(os.getenv("BENCH_THREADS"))
  local index = 0
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    if index % stride == id then
      local method, path, name, value, ctype, body = line:match("^(%S+)\t(%S+)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
      table.insert(requests, wrk.format(method, path, {[name] = value, ["Content-Type"] = ctype}, body))
    end
    index = index + 1
  end
  filler_request = wrk.format("GET", "/healthz")
  position, sent, filler = 1, 0, 0
end

function request()
  local prepared = requests[position]
  if prepared == nil then
    filler = filler + 1
    return filler_request
  end
  position = position + 1
  sent = sent + 1
  return prepared
end

function done(summary, latency, requests)
  local totals = {sent = 0, filler = 0}
  for _, thread in ipairs(threads) do
    for key, _ in pairs(totals) do
      totals[key] = totals[key] + thread:get(key)
    end
  end
  io.write(string.format("REPLAY sent=%d filler=%d\n", totals.sent, totals.filler))
end
