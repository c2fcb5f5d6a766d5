"""The Python apps of bindings-node/test/mixed-deployment.test.js: one API served by the
Python middleware over the shared Redis replay store, beside xnonce-server and a Node app.

    python mixed-python-app.py wsgi|asgi REDIS_PORT

Secrets from XNONCE_MIXED_CLIENT / XNONCE_MIXED_SECRET, the key prefix from
XNONCE_MIXED_PREFIX (xnonce.redis.DEFAULT_PREFIX when unset). ``wsgi``: the WSGI middleware
and RedisReplayStore under Werkzeug; ``asgi``: the ASGI middleware and AsyncRedisReplayStore
under uvicorn. Prints ``listening on <url>`` once it accepts connections, answers 200 and the
verified client to each request the middleware accepts, and runs until it is terminated.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import redis
import redis.asyncio
import xnonce
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry
from xnonce.redis import DEFAULT_PREFIX, AsyncRedisReplayStore, RedisReplayStore


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    prefix = os.environ.get("XNONCE_MIXED_PREFIX", DEFAULT_PREFIX)
    secrets = {os.environ["XNONCE_MIXED_CLIENT"]: os.environ["XNONCE_MIXED_SECRET"]}
    if kind == "wsgi":
        from werkzeug.serving import make_server
        from xnonce.wsgi import ENVIRON_KEY
        from xnonce.wsgi import XNonceMiddleware as WsgiMiddleware

        client = redis.Redis(
            host="127.0.0.1",
            port=port,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=Retry(NoBackoff(), 0),
        )
        verifier = xnonce.Verifier(secrets, replay_store=RedisReplayStore(client, prefix))

        def wsgi_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [environ[ENVIRON_KEY].client.encode()]

        server = make_server("127.0.0.1", 0, WsgiMiddleware(wsgi_app, verifier), threaded=True)
        print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
        server.serve_forever()
    elif kind == "asgi":
        import uvicorn
        from xnonce.asgi import XNonceMiddleware as AsgiMiddleware

        once = AsyncRetry(NoBackoff(), 0)
        store = AsyncRedisReplayStore(
            redis.asyncio.Redis(host="127.0.0.1", port=port, retry=once), prefix
        )

        async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
            client = scope["xnonce.verified"].client.encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": client})

        app = AsgiMiddleware(asgi_app, xnonce.Verifier(secrets), replay_store=store)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
        uvicorn.Server(config).run(sockets=[sock])
    else:
        sys.exit(f"usage: {sys.argv[0]} wsgi|asgi REDIS_PORT")


if __name__ == "__main__":
    main()
