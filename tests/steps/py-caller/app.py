"""Calls an outside service with a granted secret (the SDK's config, secrets and HTTP in Python).

``call({url, person})`` POSTs ``person`` to ``url`` with the secret ``apiKey`` as a bearer token, prints a
line naming the key, emits ``Called`` carrying the key, and returns the status, the response's JSON, the
config value ``region`` and the key: Weft must redact the key everywhere it would appear."""

from weft_step import Context, Step, export, kernel_function


class Caller(Step):
    @kernel_function
    def call(self, ctx: Context, request: dict) -> dict:
        """POST `request["person"]` to `request["url"]` with the `apiKey` secret."""
        url, person = request["url"], request["person"]
        key = ctx.secret("apiKey")
        print(f"calling {url} with key {key}")
        response = ctx.http("POST", url, headers={"authorization": f"Bearer {key}"}, json_body=person)
        ctx.emit("Called", {"status": response.status, "key": key})
        return {"status": response.status, "body": response.json(), "region": ctx.config("region"), "key": key}


Kernel = export(Caller)
