-- Lanyard's check (GET /api/auth/v1/check, SPEC §5.7) as an Apache httpd
-- access checker (mod_lua), for lanyard-forward-auth.conf. It asks the
-- check with the request's Authorization and the query in LANYARD_QUERY,
-- over HTTP with LuaSocket (Debian: lua-socket), and
--   200: lets the request through with X-Lanyard-Subject,
--        X-Lanyard-Principal-Type and X-Lanyard-Org set on it;
--   401: answers 401 with Lanyard's WWW-Authenticate;
--   403: answers 403;
--   anything else, or no answer: 500 (fail closed).
-- The request blocks its Apache thread for the round trip (as mod_authnz_fcgi
-- would); one TCP connection per check (LuaSocket does not keep it alive).
require "apache2"
local http = require "socket.http"
local ltn12 = require "ltn12"

local DEFAULT_URL = "http://127.0.0.1:8080/api/auth/v1/check"
local IDENTITY = {
    { "x-lanyard-subject", "X-Lanyard-Subject" },
    { "x-lanyard-principal-type", "X-Lanyard-Principal-Type" },
    { "x-lanyard-org", "X-Lanyard-Org" },
}

http.TIMEOUT = 5

function lanyard_check(r)
    -- a subrequest or internal redirect of a checked request is not asked again
    if not r.is_initial_req then
        return apache2.DECLINED
    end
    -- a path the configuration left open (LANYARD_OPEN set by SetEnvIf)
    if r.subprocess_env["LANYARD_OPEN"] ~= nil then
        return apache2.DECLINED
    end
    local url = r.subprocess_env["LANYARD_CHECK_URL"] or DEFAULT_URL
    local q = r.subprocess_env["LANYARD_QUERY"]
    if q ~= nil and q ~= "" then
        url = url .. "?" .. q
    end
    local body = {}
    local ok, code, headers = http.request {
        url = url,
        method = "GET",
        headers = {
            ["authorization"] = r.headers_in["Authorization"],
            ["x-original-uri"] = r.unparsed_uri,
            ["x-original-method"] = r.method,
        },
        sink = ltn12.sink.table(body),
        redirect = false,
    }
    if ok == nil then
        r:err("lanyard check " .. url .. ": " .. tostring(code))
        return 500
    end
    -- a client's own identity headers never reach the protected service
    for _, h in ipairs(IDENTITY) do
        r.headers_in[h[2]] = nil
    end
    if code == 200 then
        for _, h in ipairs(IDENTITY) do
            if headers[h[1]] ~= nil then
                r.headers_in[h[2]] = headers[h[1]]
            end
        end
        return apache2.OK
    end
    if code == 401 then
        if headers["www-authenticate"] ~= nil then
            r.err_headers_out["WWW-Authenticate"] = headers["www-authenticate"]
        end
        return 401
    end
    if code == 403 then
        return 403
    end
    r:err("lanyard check " .. url .. ": unexpected status " .. tostring(code))
    return 500
end
