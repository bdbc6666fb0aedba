-- Lanyard's check (GET /api/auth/v1/check, SPEC §5.7) in front of what
-- lighttpd serves, as a mod_magnet script (Debian: lighttpd-modules-lua)
-- that asks the check over HTTP with LuaSocket (Debian: lua-socket). See
-- lanyard-forward-auth.conf and doc/forward-auth.md.
--
-- CAUTION: lighttpd runs one event loop; this script blocks it for the
-- check's round trip (LuaSocket is synchronous), so lighttpd serves nothing
-- else meanwhile. Keep Lanyard near (loopback) and the traffic modest, or
-- put nginx in front instead.
--
-- Copy this file and edit CHECK_URL and ROUTES (lighttpd passes no settings
-- to a magnet script).

local http = require "socket.http"
local ltn12 = require "ltn12"

local CHECK_URL = "http://127.0.0.1:8080/api/auth/v1/check"

-- The check's query per path: the first Lua pattern that matches the path
-- gives the query, its captures filling %1, %2, ... A path no route matches
-- gets a plain check (any valid credential). Captures are used as they are:
-- keep the patterns to the characters of names and resources.
local ROUTES = {
    -- { "^/files/([a-z0-9-]+)/(%l+)/", "org=%1&role=%2" },
    -- { "^/repo/([%w._:/-]+)/[^/]+$", "resource=%1" },
}

-- Paths left open (Lua patterns).
local OPEN = {
    -- "^/public/",
}

local IDENTITY = { "X-Lanyard-Subject", "X-Lanyard-Principal-Type", "X-Lanyard-Org" }

http.TIMEOUT = 5

local r = lighty.r
local path = r.req_attr["uri.path"] or ""

-- a client's own identity headers never reach what is behind
for _, h in ipairs(IDENTITY) do
    r.req_header[h] = nil
end

for _, p in ipairs(OPEN) do
    if string.find(path, p) then
        return 0
    end
end

local url = CHECK_URL
for _, route in ipairs(ROUTES) do
    local caps = { string.match(path, route[1]) }
    if #caps > 0 then
        local q = string.gsub(route[2], "%%(%d)", function(i)
            return caps[tonumber(i)] or ""
        end)
        url = url .. "?" .. q
        break
    end
end

local ok, code, headers = http.request {
    url = url,
    method = "GET",
    headers = {
        ["authorization"] = r.req_header["Authorization"],
        ["x-original-uri"] = r.req_attr["request.uri"],
        ["x-original-method"] = r.req_attr["request.method"],
    },
    sink = ltn12.sink.table({}),
    redirect = false,
}
if ok == nil then
    print("lanyard check " .. url .. ": " .. tostring(code))
    return 500
end
if code == 200 then
    for _, h in ipairs(IDENTITY) do
        local v = headers[string.lower(h)]
        if v ~= nil then
            r.req_header[h] = v
        end
    end
    return 0
end
if code == 401 then
    if headers["www-authenticate"] ~= nil then
        r.resp_header["WWW-Authenticate"] = headers["www-authenticate"]
    end
    return 401
end
if code == 403 then
    return 403
end
print("lanyard check " .. url .. ": unexpected status " .. tostring(code))
return 500
