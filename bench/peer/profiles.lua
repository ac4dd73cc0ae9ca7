-- wrk script of scripts/bench-peer.sh: the same one-interest profiles for semrec
-- and for the peer, in each side's body shape.
--   wrk ... -s profiles.lua <url> -- <semrec|peer> <distinct|repeated> [api key]
-- distinct: 40 topics in rotation, each text made unique per request by a serial
--   number, so that no request is answered from semrec's embedding cache (a
--   population of distinct users; the peer has no cache, so it is unaffected);
-- repeated: one profile, always the same (cache hits).
-- done() prints one `RESULT` line that scripts/bench-peer.sh parses: every
-- response, the 2xx ones, the 429s, other non-2xx, socket errors, latency.

local topics = {
  "space opera", "heist thriller", "romantic comedy", "world war two", "haunted house",
  "coming of age", "courtroom drama", "zombie apocalypse", "jazz musicians", "martial arts",
  "time travel", "serial killer", "road trip", "boxing", "submarine warfare",
  "artificial intelligence", "mafia family", "pirates", "vampires", "high school musical",
  "cold war spies", "dinosaurs", "stand-up comedy", "alien invasion", "samurai",
  "political satire", "natural disaster", "hip hop", "chess", "prison escape",
  "wild west outlaws", "superheroes", "ballet", "cooking", "mountain climbing",
  "ghost story", "con artists", "robots", "medieval knights", "undercover cops",
}

local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  side = args[1]
  row = args[2]
  key = args[3]
  ok, s429, other = 0, 0, 0
  -- Unique across threads and runs: this thread's id and the start time.
  prefix = tostring(os.time() % 100000) .. "-" .. tostring(id) .. "-"
  counter = id * 7
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if side == "semrec" then
    wrk.headers["Authorization"] = "Bearer " .. key
  end
end

local function interest()
  if row == "repeated" then
    return "space opera"
  end
  counter = counter + 1
  return topics[counter % #topics + 1] .. " " .. prefix .. counter
end

function request()
  local text = interest()
  local body
  if side == "semrec" then
    body = '{"profile":{"interests":["' .. text .. '"]},"k":10}'
  else
    body = '{"interests":["' .. text .. '"],"k":10}'
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  elseif status == 429 then
    s429 = s429 + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local sum_ok, sum_429, sum_other = 0, 0, 0
  for _, t in ipairs(threads) do
    sum_ok = sum_ok + t:get("ok")
    sum_429 = sum_429 + t:get("s429")
    sum_other = sum_other + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT duration_us=%d responses=%d ok=%d s429=%d other=%d sock_errors=%d timeouts=%d p50_us=%d p99_us=%d\n",
    summary.duration, summary.requests, sum_ok, sum_429, sum_other,
    e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
