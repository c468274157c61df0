-- wrk script for bench/scale.sh: every request presents a token picked at random from the
-- file named by $SECRETS, to /auth/verify.
local secrets = {}
for line in io.lines(os.getenv("SECRETS")) do
  secrets[#secrets + 1] = line
end
math.randomseed(20261129)

request = function()
  local token = secrets[math.random(#secrets)]
  return wrk.format("GET", "/auth/verify", {
    ["Authorization"] = "Bearer " .. token,
    ["X-Original-Method"] = "GET",
    ["X-Original-URI"] = "/items",
  })
end
