"""A local fake of the Slack Web API on 127.0.0.1 that records every call.

It answers the methods the app uses with the response shapes of Slack's Web API reference
(``ok``, ``ts``, ``channel``, ``messages``, ``users``, ``upload_url``/``file_id``, ``files``),
serves ``url_private`` downloads (checking the bot token) and the ``files_upload_v2`` upload
URL. ``calls`` holds ``(method, params)`` in arrival order; form and JSON bodies are decoded
(``blocks`` and ``files`` arrive JSON-encoded in forms and are decoded too).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BOT_TOKEN = "xoxb-test-bot-token-0000"
BOT_USER = "UBOT0001"


class FakeSlack:
    """Start with :meth:`start`; the Web API base URL is :attr:`base_url`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.uploads: list[bytes] = []
        self.files: dict[str, bytes] = {}
        self.file_info: dict[str, dict[str, Any]] = {}
        self.thread_parents: dict[str, str] = {}
        self.group_members: dict[str, list[str]] = {}
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._download(self)

            def do_POST(self) -> None:
                fake._post(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/api/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> FakeSlack:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- helpers for tests ----

    def of(self, method: str) -> list[dict[str, Any]]:
        with self._lock:
            return [p for m, p in self.calls if m == method]

    def wait_for(self, predicate: Any, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out; calls: {[m for m, _ in self.calls]}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # ---- server side ----

    def _reply(self, h: BaseHTTPRequestHandler, status: int, body: bytes, kind: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", kind)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _download(self, h: BaseHTTPRequestHandler) -> None:
        path = urlparse(h.path).path
        with self._lock:
            self.calls.append(("download", {"path": path}))
        if h.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
            self._reply(h, 403, b"<html>login</html>", "text/html")
            return
        data = self.files.get(path)
        if data is None:
            self._reply(h, 404, b"not found", "text/plain")
            return
        self._reply(h, 200, data, "application/pdf")

    def _post(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        path = urlparse(h.path).path
        if path.startswith("/upload/"):
            with self._lock:
                self.uploads.append(raw)
                self.calls.append(("upload", {"path": path, "bytes": len(raw)}))
            self._reply(h, 200, b"OK - 1", "text/plain")
            return
        method = path.removeprefix("/api/")
        if "json" in (h.headers.get("Content-Type") or ""):
            params = json.loads(raw or b"{}")
        else:
            params = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        for key in ("blocks", "files", "view"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        params["_token"] = (h.headers.get("Authorization") or "").removeprefix("Bearer ")
        with self._lock:
            self.calls.append((method, params))
        body = json.dumps(self._answer(method, params)).encode()
        self._reply(h, 200, body, "application/json; charset=utf-8")

    def _answer(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": "BBOT", "team_id": "T1", "team": "t"}
        if method in ("chat.postMessage", "chat.update"):
            ts = p.get("ts") or f"1700000000.{next(self._ts):06d}"
            return {"ok": True, "channel": p.get("channel"), "ts": ts, "message": {"ts": ts}}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": "1700000000.999999"}
        if method == "conversations.replies":
            text = self.thread_parents.get(str(p.get("ts")), "")
            return {"ok": True, "messages": [{"ts": p.get("ts"), "text": text}]}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.group_members.get(str(p.get("usergroup")), [])}
        if method == "views.open":
            return {"ok": True, "view": {"id": "V1"}}
        if method == "files.getUploadURLExternal":
            fid = f"F{next(self._ts):06d}"
            return {"ok": True, "upload_url": self.url(f"/upload/{fid}"), "file_id": fid}
        if method == "files.completeUploadExternal":
            return {
                "ok": True,
                "files": [{"id": f["id"], "title": f.get("title")} for f in p["files"]],
            }
        if method == "files.info":
            info = self.file_info.get(str(p.get("file")))
            return {"ok": True, "file": info} if info else {"ok": False, "error": "file_not_found"}
        return {"ok": False, "error": "unknown_method"}
