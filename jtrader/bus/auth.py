"""CURVE keys and ZAP authentication for the bus.

Across processes the order channel is encrypted and authenticated with
ZeroMQ CURVE: the server holds a secret key and a directory of the public
keys of the clients it accepts; a client holds its own secret key and the
server's public key. A peer without CURVE, or whose key is not in the
directory, fails the handshake: nothing it sends reaches the server's
``recv()`` and it receives nothing.

Keys live in files only (the format of ``zmq.auth.create_certificates``:
``<name>.key`` public, ``<name>.key_secret`` secret, mode 0600). No
environment variable is read; a caller that keeps keys elsewhere (a secret
store) builds :class:`ServerCurve` / :class:`ClientCurve` with ``from_keys``.
Key material is never logged and never appears in a ``repr``.

Layout written by :func:`keys_command` (``jtrader keys DIR``)::

    DIR/server.key               server public key: give it to every client
    DIR/server.key_secret        server secret key (0600): the OMS host only
    DIR/client.key               client public key
    DIR/client.key_secret        client secret key (0600): the strategy host only
    DIR/allowed_clients/client.key   the directory the server accepts keys from

Exceptions::

    CurveError(ValueError)   CURVE unavailable in libzmq, a key file missing,
                             unreadable, without the expected key, or readable by
                             other users; an allowed-clients directory that is
                             missing or empty; a ZAP handler already bound in the
                             context by someone else; keys that already exist
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from jtrader.bus.metrics import is_log_point

__all__ = [
    "CurveError",
    "KeyPairFiles",
    "ServerCurve",
    "ClientCurve",
    "ZapHandle",
    "generate_keys",
    "authorise_client",
    "load_keypair",
    "load_public_key",
    "keys_command",
    "start_zap",
]

log = logging.getLogger("jtrader.bus.auth")

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ALLOWED_CLIENTS_DIRNAME = "allowed_clients"


class CurveError(ValueError):
    """A CURVE key or configuration problem; the message says which file and what to do."""


class KeyPairFiles(NamedTuple):
    """The two files of one keypair."""

    public: Path
    secret: Path


def _require_curve() -> None:
    if not zmq.has("curve"):
        raise CurveError(
            f"libzmq {zmq.zmq_version()} was built without CURVE: "
            "install a pyzmq wheel (it bundles libsodium-backed CURVE)"
        )


def generate_keys(
    directory: str | os.PathLike[str], names: Iterable[str] = ("server", "client"), *, overwrite: bool = False
) -> dict[str, KeyPairFiles]:
    """Write one CURVE keypair per name into ``directory``; return the files written, by name.

    Guarantees: secret files have mode 0600 from the moment they appear under
    their final name (they are written in a private 0700 temporary directory
    and moved); existing keys are never replaced unless ``overwrite`` is true
    (raises :class:`CurveError` naming them). ``directory`` is created (0700) if missing.
    """
    _require_curve()
    directory = Path(directory)
    names = list(names)
    for name in names:
        if not _NAME.match(name):
            raise CurveError(f"key name {name!r}: expected 1-64 letters, digits, '_' or '-'")
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    targets = {name: KeyPairFiles(directory / f"{name}.key", directory / f"{name}.key_secret") for name in names}
    existing = [str(path) for files in targets.values() for path in files if path.exists()]
    if existing and not overwrite:
        raise CurveError(
            f"keys already exist: {', '.join(existing)}; delete them or pass --force (overwrite=True from Python) "
            "(every peer must then be given the new public keys)"
        )
    with tempfile.TemporaryDirectory(dir=directory, prefix=".keys-") as tmp:  # created 0700
        for name, target in targets.items():
            public, secret = zmq.auth.create_certificates(tmp, name)
            os.chmod(secret, 0o600)
            os.chmod(public, 0o644)
            os.replace(secret, target.secret)
            os.replace(public, target.public)
    return targets


def authorise_client(public_key_file: str | os.PathLike[str], allowed_dir: str | os.PathLike[str]) -> Path:
    """Copy a client's public key file into the server's allowed-clients directory; return the new path.

    Refuses a file that holds a secret key (only public keys belong there).
    A running server sees the new key after ``CommandServer.reload_allowed_clients()``.
    """
    source = Path(public_key_file)
    _public, secret = _read_certificate(source)
    if secret is not None:
        raise CurveError(f"{source} holds a secret key: authorise the public file ({source.stem}.key) instead")
    allowed = Path(allowed_dir)
    allowed.mkdir(parents=True, exist_ok=True, mode=0o755)
    target = allowed / f"{source.stem}.key"
    shutil.copyfile(source, target)
    os.chmod(target, 0o644)
    return target


def _read_certificate(path: Path) -> tuple[bytes, bytes | None]:
    try:
        public, secret = zmq.auth.load_certificate(path)
    except OSError:
        raise CurveError(f"key file {path} not found: run `jtrader keys DIR` or check the path") from None
    except ValueError:
        raise CurveError(f"{path} is not a CURVE certificate (no public-key line)") from None
    if len(public) != 40 or (secret is not None and len(secret) != 40):
        raise CurveError(f"{path}: expected Z85 keys of 40 characters; regenerate it with `jtrader keys`")
    return public, secret


def load_keypair(path: str | os.PathLike[str]) -> tuple[bytes, bytes]:
    """Read ``(public_key, secret_key)`` (Z85) from a ``.key_secret`` file.

    Raises :class:`CurveError` if the file is missing, has no secret key, or
    can be read by group or others (fix with ``chmod 600``).
    """
    path = Path(path)
    public, secret = _read_certificate(path)
    if secret is None:
        raise CurveError(f"{path} holds only a public key: pass the matching .key_secret file")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise CurveError(f"secret key file {path} has mode {mode:o}, readable by other users: run chmod 600 {path}")
    return public, secret


def load_public_key(path: str | os.PathLike[str]) -> bytes:
    """Read the public key (Z85) from a ``.key`` (or ``.key_secret``) file."""
    return _read_certificate(Path(path))[0]


def _check_allowed_dir(allowed_dir: Path) -> None:
    if not allowed_dir.is_dir():
        raise CurveError(
            f"allowed-clients directory {allowed_dir} does not exist: create it and copy client .key files in "
            "(authorise_client / `jtrader keys`)"
        )
    if not any(allowed_dir.glob("*.key")):
        raise CurveError(
            f"allowed-clients directory {allowed_dir} holds no .key file: every client would be refused; "
            "copy the clients' public keys in"
        )


class ServerCurve:
    """The server side of CURVE: its keypair and the directory of accepted client public keys.

    Example::

        curve = ServerCurve(Path("keys/server.key_secret"), Path("keys/allowed_clients"))
        server = CommandServer(ctx, "tcp://127.0.0.1:5555", curve=curve)
    """

    __slots__ = ("_public_key", "_secret_key", "allowed_clients_dir", "secret_key_file")

    def __init__(self, secret_key_file: str | os.PathLike[str], allowed_clients_dir: str | os.PathLike[str]) -> None:
        _require_curve()
        self.secret_key_file: Path | None = Path(secret_key_file)
        self.allowed_clients_dir = Path(allowed_clients_dir)
        self._public_key, self._secret_key = load_keypair(self.secret_key_file)
        _check_allowed_dir(self.allowed_clients_dir)

    @classmethod
    def from_keys(
        cls, public_key: bytes, secret_key: bytes, allowed_clients_dir: str | os.PathLike[str]
    ) -> ServerCurve:
        """Build from Z85 keys held elsewhere (a secret store) instead of a file."""
        _require_curve()
        self = cls.__new__(cls)
        self.secret_key_file = None
        self.allowed_clients_dir = Path(allowed_clients_dir)
        self._public_key, self._secret_key = bytes(public_key), bytes(secret_key)
        _check_allowed_dir(self.allowed_clients_dir)
        return self

    @property
    def public_key(self) -> bytes:
        """The server's public key (Z85), the one clients need."""
        return self._public_key

    def apply(self, socket: zmq.Socket[Any], zap_domain: str) -> None:
        """Make ``socket`` a CURVE server authenticated through ZAP domain ``zap_domain`` (before bind)."""
        socket.curve_secretkey = self._secret_key
        socket.curve_publickey = self._public_key
        socket.curve_server = True
        socket.zap_domain = zap_domain.encode()

    def __repr__(self) -> str:
        return (
            f"ServerCurve(secret_key_file={self.secret_key_file!r}, allowed_clients_dir={self.allowed_clients_dir!r})"
        )


class ClientCurve:
    """The client side of CURVE: its keypair and the server's public key.

    Example::

        curve = ClientCurve(Path("keys/client.key_secret"), Path("keys/server.key"))
        client = CommandClient(ctx, "tcp://127.0.0.1:5555", curve=curve)
    """

    __slots__ = ("_public_key", "_secret_key", "_server_key", "secret_key_file", "server_public_file")

    def __init__(self, client_secret_file: str | os.PathLike[str], server_public_file: str | os.PathLike[str]) -> None:
        _require_curve()
        self.secret_key_file: Path | None = Path(client_secret_file)
        self.server_public_file: Path | None = Path(server_public_file)
        self._public_key, self._secret_key = load_keypair(self.secret_key_file)
        self._server_key = load_public_key(self.server_public_file)

    @classmethod
    def from_keys(cls, public_key: bytes, secret_key: bytes, server_public_key: bytes) -> ClientCurve:
        """Build from Z85 keys held elsewhere (a secret store) instead of files."""
        _require_curve()
        self = cls.__new__(cls)
        self.secret_key_file = self.server_public_file = None
        self._public_key, self._secret_key = bytes(public_key), bytes(secret_key)
        self._server_key = bytes(server_public_key)
        return self

    @property
    def public_key(self) -> bytes:
        """The client's public key (Z85), the one the server's allowed directory must hold."""
        return self._public_key

    def apply(self, socket: zmq.Socket[Any]) -> None:
        """Make ``socket`` a CURVE client of the server (before connect)."""
        socket.curve_secretkey = self._secret_key
        socket.curve_publickey = self._public_key
        socket.curve_serverkey = self._server_key

    def __repr__(self) -> str:
        return f"ClientCurve(secret_key_file={self.secret_key_file!r}, server_public_file={self.server_public_file!r})"


# -- ZAP: one authenticator thread per context, one domain per server socket ----------------


class _QuietLog:
    """A logger for pyzmq's authenticator that drops its debug lines (they print client keys)."""

    def __init__(self, target: logging.Logger) -> None:
        self._target = target

    def debug(self, *args: object, **kwargs: object) -> None:
        pass

    def info(self, *args: object, **kwargs: object) -> None:
        pass

    def warning(self, msg: str, *args: object) -> None:
        self._target.warning("zap: " + msg, *args)

    def error(self, msg: str, *args: object) -> None:
        self._target.error("zap: " + msg, *args)


class _Authenticator(ThreadAuthenticator):
    """pyzmq's thread authenticator, reporting each denied CURVE handshake to its domain's hook."""

    def __init__(self, context: zmq.Context[Any]) -> None:
        super().__init__(context=context, log=_QuietLog(log))
        self.on_denied: dict[str, Callable[[], None]] = {}
        self.denied: dict[str, int] = {}

    async def _authenticate_curve(self, domain: str, client_key: bytes) -> tuple[bool, bytes]:
        allowed, reason = await super()._authenticate_curve(domain, client_key)
        if not allowed:
            count = self.denied[domain] = self.denied.get(domain, 0) + 1
            if is_log_point(count):
                log.warning("CURVE client refused on %s (%s); %d refusals so far", domain, reason.decode(), count)
            hook = self.on_denied.get(domain)
            if hook is not None:
                try:
                    hook()
                except Exception:
                    log.exception("on_denied hook of %s raised", domain)
        return allowed, reason


class ZapHandle:
    """One server socket's registration with its context's ZAP authenticator; close it with the socket."""

    def __init__(self, shared: _Shared, domain: str, allowed_dir: Path) -> None:
        self._shared = shared
        self.domain = domain
        self.allowed_dir = allowed_dir
        self._closed = False

    @property
    def denied(self) -> int:
        """How many CURVE handshakes this domain has refused."""
        return self._shared.authenticator.denied.get(self.domain, 0)

    def reload(self) -> None:
        """Re-read the allowed-clients directory (after adding or removing a key)."""
        _check_allowed_dir(self.allowed_dir)
        with _LOCK:
            self._shared.authenticator.configure_curve(domain=self.domain, location=str(self.allowed_dir))

    def close(self) -> None:
        """Forget this domain; stop the authenticator thread when its last domain goes. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with _LOCK:
            authenticator = self._shared.authenticator
            authenticator.certs.pop(self.domain, None)
            authenticator.on_denied.pop(self.domain, None)
            self._shared.users -= 1
            if self._shared.users == 0:
                authenticator.stop()
                _SHARED.pop(id(self._shared.context), None)


class _Shared:
    def __init__(self, context: zmq.Context[Any]) -> None:
        self.context = context
        self.authenticator = _Authenticator(context)
        self.users = 0
        self.next_domain = 0


_LOCK = threading.Lock()
_SHARED: dict[int, _Shared] = {}


def start_zap(
    context: zmq.Context[Any], allowed_dir: Path, name: str, on_denied: Callable[[], None] | None = None
) -> ZapHandle:
    """Register a ZAP domain accepting the keys in ``allowed_dir``; start the context's authenticator if needed.

    One authenticator thread serves every server socket of a context, each on
    its own domain, so two servers with different allowed directories never
    accept each other's clients. ``on_denied`` runs (in the authenticator
    thread) for every refused handshake. Raises :class:`CurveError` if another
    component already bound a ZAP handler in this context.
    """
    _check_allowed_dir(allowed_dir)
    with _LOCK:
        shared = _SHARED.get(id(context))
        if shared is None or shared.context is not context:
            shared = _Shared(context)
            try:
                shared.authenticator.start()
            except zmq.ZMQError as exc:
                raise CurveError(
                    f"cannot start the ZAP authenticator ({exc}): another ZAP handler is bound in this context; "
                    "use one zmq.Context per authenticator owner"
                ) from None
            _SHARED[id(context)] = shared
        shared.next_domain += 1
        domain = f"jtrader.{name}.{shared.next_domain}"
        shared.authenticator.configure_curve(domain=domain, location=str(allowed_dir))
        if on_denied is not None:
            shared.authenticator.on_denied[domain] = on_denied
        shared.users += 1
    return ZapHandle(shared, domain, allowed_dir)


def keys_command(
    directory: Path, *, overwrite: bool = False, echo: Callable[[str], object] = print
) -> dict[str, KeyPairFiles]:
    """``jtrader keys DIR``: write a server and a client keypair, authorise the client; print paths, never keys."""
    directory = Path(directory)
    files = generate_keys(directory, ("server", "client"), overwrite=overwrite)
    allowed = authorise_client(files["client"].public, directory / ALLOWED_CLIENTS_DIRNAME)
    for name, pair in files.items():
        echo(f"wrote {name} keypair: public {pair.public}, secret {pair.secret} (mode 0600)")
    echo(f"authorised client key: {allowed}")
    echo(
        f"server: ServerCurve({files['server'].secret}, {allowed.parent}); "
        f"client: ClientCurve({files['client'].secret}, {files['server'].public})"
    )
    return files
