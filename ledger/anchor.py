"""The ledger's anchor outside the database: signed checkpoints of the chain head.

The hash chain alone proves that the entries agree with each other and with the head row, but
its recipe is public and unkeyed: whoever can write the database can recompute it after an edit,
cut the tail and roll the head back, or put an older copy of the file in its place. So after
every write transaction that moves the head, the store appends one *checkpoint* to a *witness*
file kept away from the ledger::

    {"at": ..., "head": ..., "key": ..., "ledger_id": ..., "location": ..., "seq": ..., "sig": ...}

``sig`` is an Ed25519 signature (hex) over the other fields as canonical JSON, made with a key
that lives in the user's config directory (``$RECEIPTS_KEY_DIR``, else ``receipts`` under
platformdirs' user config directory: ``anchor-ed25519.pem``, private, mode 0600, and
``anchor-ed25519.pub``, the public key in hex), created on the first write. The witness of a
ledger is ``<witness dir>/<sha256 of its location>.jsonl``, the witness dir being
``$RECEIPTS_WITNESS_DIR``, else ``witness`` under platformdirs' user state directory; the
location is the SQLite file's real path, or the database URL without password or query.

:func:`check` holds a verified chain against the checkpoint with the highest ``seq`` of the
ledger: the ledger must be the one the witness saw (same ``ledger_id``), reach that entry, and
that entry must still have the recorded hash (which, the chain being intact, vouches for every
entry up to it). What it cannot see is stated in the README: a witness rolled back or deleted
together with the ledger, and anything done by someone holding the private key.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ledger.errors import InputError
from ledger.schema import utcnow
from ledger.tables import Database
from ledger.tables import head as head_of
from ledger.tables import ledger_id as ledger_id_of

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEY_DIR_ENV = "RECEIPTS_KEY_DIR"
"""Directory of the signing key (default: ``receipts`` in the user config directory)."""
WITNESS_DIR_ENV = "RECEIPTS_WITNESS_DIR"
"""Directory of the witness files (default: ``receipts/witness`` in the user state directory)."""
PRIVATE_KEY = "anchor-ed25519.pem"
PUBLIC_KEY = "anchor-ed25519.pub"
FIELDS = ("at", "head", "key", "ledger_id", "location", "seq")
"""The signed fields of a checkpoint (``sig`` is the signature over them)."""


def key_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(os.environ.get(KEY_DIR_ENV) or user_config_dir("receipts", appauthor=False))


def witness_dir() -> Path:
    from platformdirs import user_state_dir

    default = Path(user_state_dir("receipts", appauthor=False)) / "witness"
    return Path(os.environ.get(WITNESS_DIR_ENV) or default)


def location(url: str) -> str | None:
    """Where the ledger lives, as the witness names it; ``None`` for an in-memory SQLite."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite":
        bare = parsed.set(password=None, query={}, drivername=parsed.get_backend_name())
        return bare.render_as_string(hide_password=False)
    database = parsed.database or ""
    if database.startswith("file:"):
        database = database[len("file:") :].split("?", 1)[0]
    if not database or database == ":memory:" or parsed.query.get("mode") == "memory":
        return None
    return "sqlite:" + os.path.realpath(os.path.expanduser(database))


def witness_path(url: str) -> Path | None:
    """The witness file of the ledger at ``url`` (``None``: an in-memory ledger has none)."""
    where = location(url)
    if where is None:
        return None
    return witness_dir() / f"{hashlib.sha256(where.encode()).hexdigest()[:32]}.jsonl"


def _signed_bytes(fields: dict[str, Any]) -> bytes:
    signed = {k: fields[k] for k in FIELDS}
    return json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()


def _load_or_create_key() -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    folder = key_dir()
    private = folder / PRIVATE_KEY
    if not private.exists():
        folder.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Written aside and linked into place: two processes creating a key at once keep one.
        draft = folder / f".{PRIVATE_KEY}.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, pem)
        finally:
            os.close(fd)
        try:
            os.link(draft, private)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    loaded = serialization.load_pem_private_key(private.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise OSError(f"{private} is not an Ed25519 key")
    public = folder / PUBLIC_KEY
    if not public.exists():
        public.write_text(_public_hex(loaded) + "\n")
    return loaded


def _public_hex(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def trusted_key() -> str | None:
    """The public key (hex) checkpoints must be signed with, from the key directory."""
    public = key_dir() / PUBLIC_KEY
    if public.exists():
        return public.read_text().strip()
    if (key_dir() / PRIVATE_KEY).exists():
        return _public_hex(_load_or_create_key())
    return None


class Anchor:
    """Writes the checkpoints of one ledger; holds its key once loaded (one signature a write)."""

    def __init__(self, url: str) -> None:
        self._location = location(url)
        self._path = witness_path(url)
        self._key: Ed25519PrivateKey | None = None
        self._key_hex = ""

    def checkpoint(self, ledger_id: str, seq: int, head_hash: str) -> None:
        """Append a signed checkpoint of the head. Runs after the commit: a failure here loses
        no entry, so it is reported on stderr (the ledger is then ahead of its anchor, which
        :func:`check` accepts) instead of failing the write."""
        if self._path is None:
            return
        try:
            if self._key is None:
                self._key = _load_or_create_key()
                self._key_hex = _public_hex(self._key)
            fields: dict[str, Any] = {
                "at": utcnow().isoformat(),
                "head": head_hash,
                "key": self._key_hex,
                "ledger_id": ledger_id,
                "location": self._location,
                "seq": seq,
            }
            fields["sig"] = self._key.sign(_signed_bytes(fields)).hex()
            line = (json.dumps(fields, sort_keys=True) + "\n").encode()
            self._path.parent.mkdir(parents=True, exist_ok=True)
            # One write on an O_APPEND descriptor: concurrent writers' lines do not interleave.
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except (OSError, ValueError) as exc:
            print(
                f"receipts: warning: entry {seq} is in the ledger but its checkpoint could not "
                f"be written to {self._path} ({exc}); `receipts verify` vouches only for the "
                "entries up to the last checkpoint",
                file=sys.stderr,
            )


@dataclass(frozen=True)
class AnchorCheck:
    """What :func:`check` found."""

    witness: str | None
    """The witness file checked; ``None`` where the ledger has none (it is not anchored)."""
    seq: int | None = None
    """The entry the latest checkpoint vouches for."""
    at: str | None = None
    """When that checkpoint was written (UTC, ISO 8601)."""
    problem: str | None = None
    """Why the ledger fails against its anchor, where it does."""
    bad_seq: int | None = None
    """The first entry that fails, where one can be named."""


def _read(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    found: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
            if not (isinstance(fields, dict) and set(fields) == {*FIELDS, "sig"}):
                raise ValueError
            if not isinstance(fields["seq"], int):
                raise ValueError
        except ValueError:
            return [], f"witness {path} line {number} is not a checkpoint: the witness was edited"
        found.append(fields | {"line": number})
    return found, None


def _signature_ok(fields: dict[str, Any]) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(str(fields["key"])))
        public.verify(bytes.fromhex(str(fields["sig"])), _signed_bytes(fields))
    except (ValueError, InvalidSignature):
        return False
    return True


def check(ledger: Database, url: str, witness: Path | None = None) -> AnchorCheck:
    """Hold a ledger whose chain verified against its latest checkpoint.

    ``witness`` names the witness file (``receipts verify --anchor``); by default it is the one
    kept for the ledger's location, and a ledger without one is reported as not anchored.

    Raises:
        InputError: ``witness`` was given and does not exist.
    """
    path = witness if witness is not None else witness_path(url)
    if path is None or not path.exists():
        if witness is not None:
            raise InputError(f"--anchor {witness}: no such witness file")
        return AnchorCheck(None)
    name = str(path)
    checkpoints, problem = _read(path)
    if problem:
        return AnchorCheck(name, problem=problem)
    with ledger.connect() as conn:
        this_id = ledger_id_of(conn)
        head_seq, _ = head_of(conn)
    others = sorted({str(c["ledger_id"]) for c in checkpoints} - {this_id})
    if others:
        return AnchorCheck(
            name,
            problem=f"the witness {name} checkpoints ledger {others[0]}, but this is ledger "
            f"{this_id}: the ledger was replaced (if on purpose, move the witness aside)",
        )
    if not checkpoints:
        return AnchorCheck(name)
    latest = max(checkpoints, key=lambda c: int(c["seq"]))
    seq, at, line = int(latest["seq"]), str(latest["at"]), latest["line"]
    trusted = trusted_key()
    if trusted is None:
        return AnchorCheck(
            name,
            seq,
            at,
            f"no anchor key in {key_dir()} to check the witness {name} with "
            f"(set {KEY_DIR_ENV} to the directory holding {PUBLIC_KEY})",
        )
    if latest["key"] != trusted or not _signature_ok(latest):
        return AnchorCheck(
            name,
            seq,
            at,
            f"checkpoint on line {line} of {name} is not signed by the anchor key "
            f"{trusted[:16]}…: the witness was forged or edited",
        )
    if head_seq < seq:
        return AnchorCheck(
            name,
            seq,
            at,
            f"the ledger ends at entry {head_seq} but its anchor saw entry {seq} at {at}: "
            "entries were removed and the head rolled back, or an older copy was put in place",
            head_seq + 1,
        )
    with ledger.connect() as conn:
        stored = conn.execute(text("SELECT hash FROM entries WHERE seq = :s"), {"s": seq}).first()
    if stored is None or stored[0] != latest["head"]:
        return AnchorCheck(
            name,
            seq,
            at,
            f"entry {seq} does not have the hash its anchor recorded at {at}: the chain was "
            "rewritten (an entry at or before it was edited and the hashes recomputed)",
            seq,
        )
    return AnchorCheck(name, seq, at)
