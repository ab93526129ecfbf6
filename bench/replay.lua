-- wrk script: replays prepared requests, each line of $BENCH_REQUESTS used once
-- ("METHOD\tPATH\tHEADER\tVALUE\tCONTENT-TYPE\tBODY"). Threads take every Nth line.
-- When a thread runs out it sends GET /healthz, counted apart. done() prints the counts
-- so the caller can compare answered votes with the database.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  lines = {}
  local stride = tonumber(os.getenv("BENCH_THREADS"))
  local index = 0
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    if index % stride == id then
      table.insert(lines, line)
    end
    index = index + 1
  end
  position, sent, ok, refused, filler = 1, 0, 0, 0, 0
end

function request()
  local line = lines[position]
  if line == nil then
    return wrk.format("GET", "/healthz")
  end
  position = position + 1
  sent = sent + 1
  local method, path, name, value, ctype, body = line:match("^(%S+)\t(%S+)\t([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
  return wrk.format(method, path, {[name] = value, ["Content-Type"] = ctype}, body)
end

function response(status, headers, body)
  if status == 201 or status == 302 then
    ok = ok + 1
  elseif status == 200 then
    filler = filler + 1
  else
    refused = refused + 1
  end
end

function done(summary, latency, requests)
  local totals = {sent = 0, ok = 0, refused = 0, filler = 0}
  for _, thread in ipairs(threads) do
    for key, _ in pairs(totals) do
      totals[key] = totals[key] + thread:get(key)
    end
  end
  io.write(string.format("REPLAY sent=%d ok=%d refused=%d filler=%d\n",
    totals.sent, totals.ok, totals.refused, totals.filler))
end
