#!/usr/bin/env python3
"""An independent verifier for sitrep export bundles.

Written from docs/record-format.md alone, sharing no code with sitrep: the Python standard
library plus one package for Ed25519 (`cryptography`). The JSON Canonicalization Scheme
(RFC 8785) is implemented below for what JSON can hold; sitrep's entries hold objects, arrays,
strings, integers, booleans and null, and numbers with fractions are formatted as RFC 8785
(ECMAScript) says.

    python3 tools/verify_bundle.py BUNDLE [--key PUBKEY_OR_FILE] [--checkpoint EARLIER] [--json]

Exit 0 when everything holds; 1 with one line naming what failed; 2 when it cannot run.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:  # pragma: no cover - reported when run
    Ed25519PublicKey = None

FORMAT = "sitrep-bundle/2"
# Every release before format 2 wrote format 1, whose checkpoint signs the record but not the
# manifest: what only the manifest says is reported as not vouched for.
FORMAT_1 = "sitrep-bundle/1"
MANIFEST_LINE = "bundle.json sha256 "
MANIFEST, CHECKPOINT, POLICY, RECORD, PROOFS, BLOBS = (
    "bundle.json", "checkpoint", "policy.toml", "record.jsonl", "proofs.json", "blobs/")
BLOCK = 512
LIMITS = {MANIFEST: 64 << 20, POLICY: 64 << 20, CHECKPOINT: 64 << 10, RECORD: 4 << 30, PROOFS: 4 << 30}
ENTRY_FIELDS = ["actor", "at", "body", "hash", "kind", "prev", "seq", "v"]
HEX64 = re.compile(r"[0-9a-f]{64}\Z")
INCIDENT = re.compile(r"INC-[1-9][0-9]{0,17}\Z")
KEY_NAME = re.compile(r"sitrep/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\Z")
U64 = 1 << 64


class Broken(Exception):
    """What failed: the file (or archive, --key, earlier checkpoint), the seq if any, and why."""

    def __init__(self, file, reason, seq=None):
        super().__init__(reason)
        self.file, self.reason, self.seq = file, reason, seq

    def line(self):
        where = self.file if self.seq is None else f"{self.file} seq {self.seq}"
        return f"{where}: {self.reason}"


# --- RFC 8785 (JCS) --------------------------------------------------------------------------

def _number(value):
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("NaN and infinities are not JSON")
    if value == 0:
        return "0"
    if value < 0:
        return "-" + _number(-value)
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent or 0) - (len(digits) - len(digits.lstrip("0")))
    digits = digits.strip("0")
    k = len(digits)
    if k <= point <= 21:
        return digits + "0" * (point - k)
    if 0 < point <= 21:
        return digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return "0." + "0" * -point + digits
    e = point - 1
    return digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def jcs(value):
    """The canonical JSON text of a parsed JSON value."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(jcs(item) for item in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: key.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + jcs(value[k]) for k in keys) + "}"
    raise ValueError(f"not a JSON value: {value!r}")


def canonical_json(file, data):
    """Parses JSON that must be, byte for byte, its own canonical form."""
    try:
        value = json.loads(data.decode("utf-8"))
        if jcs(value).encode("utf-8") != data:
            raise Broken(file, "not in canonical JSON form (RFC 8785)")
        return value
    except Broken:
        raise
    except (ValueError, UnicodeError, RecursionError) as error:
        raise Broken(file, f"not JSON: {error}") from None


# --- RFC 9162 Merkle trees -------------------------------------------------------------------

def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def verify_inclusion(index, size, leaf, path, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1, size2, root1, root2, proof):
    """RFC 9162 section 2.1.4.2 (size1 >= 1)."""
    if size1 < 1 or size2 < size1:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if not proof:
        return False
    if size1 & (size1 - 1) == 0:
        proof = [root1] + list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2


# --- Signed checkpoints (C2SP signed note + tlog-checkpoint) ----------------------------------

def b64_canonical(text):
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    return data if base64.b64encode(data).decode("ascii") == text else None


def valid_name(name):
    return bool(name) and not any(c.isspace() or c == "+" or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in name)


def parse_checkpoint(file, data):
    """Returns (origin, size, root, manifest SHA-256 or None, body, [(key name, key id, signature)])."""
    def bad(reason):
        return Broken(file, f"the checkpoint is not a signed note: {reason}")
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    if any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F for c in text):
        raise bad("it holds a control character other than newline")
    split = text.rfind("\n\n")
    if split < 0:
        raise bad("there is no blank line before the signatures")
    body, signatures = text[:split + 1], text[split + 2:]
    if "\n\n" in body:
        raise bad("the text has an empty line")
    lines = body[:-1].split("\n")
    if len(lines) not in (3, 4):
        raise bad("the text must be three lines (origin, tree size, root hash) and at most one extension line")
    origin, size, root = lines[:3]
    manifest = None
    if len(lines) == 4:
        digest = lines[3][len(MANIFEST_LINE):]
        if not lines[3].startswith(MANIFEST_LINE) or not HEX64.match(digest):
            raise bad("the extension line is not 'bundle.json sha256 ' and 64 lower-case hex digits")
        manifest = bytes.fromhex(digest)
    if not valid_name(origin):
        raise bad("the origin line is empty or holds a space or '+'")
    if not re.fullmatch(r"0|[1-9][0-9]*", size) or int(size) >= U64:
        raise bad("the tree size is not a decimal number without leading zeros")
    root = b64_canonical(root)
    if root is None or len(root) != 32:
        raise bad("the root hash is not canonical base64 of 32 bytes")
    if not signatures.endswith("\n"):
        raise bad("the signatures do not end with a newline")
    parsed = []
    for line in signatures[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise bad("a signature line does not start with '\u2014 '")
        name, space, encoded = line[2:].partition(" ")
        if not space:
            raise bad("a signature line has no key name")
        if not valid_name(name):
            raise bad("a signature line's key name is empty or holds '+'")
        blob = b64_canonical(encoded)
        if blob is None or len(blob) <= 4:
            raise bad("a signature is not canonical base64 of a key id and a signature")
        parsed.append((name, blob[:4], blob[4:]))
        if len(parsed) > 100:
            raise bad("more than 100 signature lines")
    return origin, int(size), root, manifest, body, parsed


def key_id(name, key):
    return hashlib.sha256(name.encode("utf-8") + b"\n\x01" + key).digest()[:4]


def verify_signature(file, body, signatures, name, key):
    """Exactly one line by (name, key) must be there and verify; other keys' lines are ignored."""
    wanted = key_id(name, key)
    ours = [signature for line_name, line_id, signature in signatures if line_name == name and line_id == wanted]
    if not ours:
        raise Broken(file, f"the checkpoint has no signature by {name} (key id {wanted.hex()})")
    if len(ours) > 1:
        raise Broken(file, f"the checkpoint has more than one signature line by {name} (key id {wanted.hex()})")
    try:
        if len(ours[0]) != 64:
            raise InvalidSignature()
        Ed25519PublicKey.from_public_bytes(key).verify(ours[0], body.encode("utf-8"))
    except (InvalidSignature, ValueError):
        raise Broken(file, f"the signature by {name} does not verify") from None


# --- The archive -----------------------------------------------------------------------------

def _octal(value, width):
    return b"%0*o" % (width - 1, value) + b"\0"


def tar_header(name, size):
    """The one ustar header a bundle member may have (docs/record-format.md)."""
    raw = name.encode("utf-8")
    if not raw or len(raw) > 100 or b"\0" in raw:
        return None
    header = bytearray(BLOCK)
    header[:len(raw)] = raw
    header[100:108] = _octal(0o644, 8)
    header[108:116] = _octal(0, 8)
    header[116:124] = _octal(0, 8)
    if size < 1 << 33:
        header[124:136] = _octal(size, 12)
    else:
        header[124:136] = b"\x80\0\0\0" + size.to_bytes(8, "big")
    header[136:148] = _octal(0, 12)
    header[156:157] = b"0"
    header[257:263] = b"ustar\0"
    header[263:265] = b"00"
    header[148:156] = _octal(sum(header) + 8 * 32, 8)
    return bytes(header)


def _header_size(field):
    if field[0] & 0x80:
        return int.from_bytes(field[4:12], "big")
    if field[11] != 0 or not re.fullmatch(rb"[0-7]{11}", field[:11]):
        return None
    return int(field[:11], 8)


def _read_exactly(stream, count):
    data = stream.read(count)
    if len(data) != count:
        raise Broken("archive", "the archive is cut short: it does not end with two zero blocks")
    return data


def read_archive(stream):
    """Walks the archive strictly; returns (manifest, members kept by name, blob count)."""
    manifest, kept, index, blobs = None, {}, 0, 0
    while True:
        header = _read_exactly(stream, BLOCK)
        if header == bytes(BLOCK):
            if _read_exactly(stream, BLOCK) != bytes(BLOCK):
                raise Broken("archive", "the end of the archive is not two zero blocks")
            if stream.read(1):
                raise Broken("archive", "there are bytes after the end of the archive")
            break
        end = header.find(b"\0", 0, 100)
        try:
            name = header[:100 if end < 0 else end].decode("utf-8")
        except UnicodeDecodeError:
            raise Broken("archive", f"member {index + 1} has no valid tar header") from None
        size = _header_size(header[124:136])
        if size is None:
            raise Broken("archive", f"member {index + 1} has no valid tar header")
        if tar_header(name, size) != header:
            raise Broken("archive", f"the header of member {index + 1} ({name}) is not the bundle's canonical ustar header")
        if index == 0 and name != MANIFEST:
            raise Broken("archive", f"the first member is {name}, not {MANIFEST}")
        if manifest is not None:
            files = manifest["files"]
            if index >= len(files):
                raise Broken("archive", f"member {index + 1} ({name}) is not in the manifest")
            if files[index] != name:
                raise Broken("archive", f"member {index + 1} is {name}, but the manifest lists {files[index]} there")
        index += 1
        if name.startswith(BLOBS):
            sha256 = name[len(BLOBS):]
            listed = [i for i in (manifest or {}).get("evidence", []) if i["sha256"] == sha256 and i["included"]]
            if not listed:
                raise Broken(name, "the manifest lists no included evidence with this hash")
            if listed[0]["size"] != size:
                raise Broken(name, f"{size} bytes, but the manifest says {listed[0]['size']}")
            hasher, left = hashlib.sha256(), size
            while left:
                chunk = _read_exactly(stream, min(left, 1 << 20))
                hasher.update(chunk)
                left -= len(chunk)
            if hasher.hexdigest() != sha256:
                raise Broken(name, f"the file hashes to {hasher.hexdigest()}, not to its name")
            blobs += 1
        else:
            if size > LIMITS.get(name, 1 << 20):
                raise Broken(name, f"{size} bytes is more than a bundle's {name} holds")
            data = _read_exactly(stream, size)
            if name == MANIFEST:
                manifest = parse_manifest(data)
            kept[name] = data
        if any(_read_exactly(stream, (BLOCK - size % BLOCK) % BLOCK)):
            raise Broken("archive", f"the padding after {name} is not zeros")
    if manifest is None:
        raise Broken("archive", "the archive has no bundle.json")
    if index < len(manifest["files"]):
        raise Broken("archive", f"the manifest lists {manifest['files'][index]}, which the archive lacks")
    return manifest, kept, blobs


# --- The manifest, the entries and the proofs ------------------------------------------------

def _is_u64(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < U64


def _shape(file, value, fields):
    """`value` must be an object with exactly `fields` (name -> check), optional ones marked '?'."""
    if not isinstance(value, dict):
        raise Broken(file, "not a JSON object")
    required = {k for k in fields if not k.endswith("?")}
    allowed = {k.rstrip("?") for k in fields}
    if not required <= set(value) or not set(value) <= allowed:
        raise Broken(file, f"the fields are {sorted(value)}, not {sorted(allowed)}")
    for key, check in fields.items():
        key = key.rstrip("?")
        if key in value and not check(value[key]):
            raise Broken(file, f"field '{key}' is not valid")


def _is_str(value):
    return isinstance(value, str)


def _is_hex(value):
    return isinstance(value, str) and HEX64.match(value) is not None


def _list_of(check):
    return lambda value: isinstance(value, list) and all(check(item) for item in value)


def parse_manifest(data):
    manifest = canonical_json(MANIFEST, data)
    form = manifest.get("format") if isinstance(manifest, dict) else None
    if isinstance(form, str) and form not in (FORMAT, FORMAT_1):
        raise Broken(MANIFEST, f"format '{form}' is neither {FORMAT} nor {FORMAT_1}")
    listing = {"sha256": _is_str, "size": _is_u64, "name": _is_str, "included": lambda v: isinstance(v, bool)}
    fields = {
        "format": _is_str, "incident": lambda v: isinstance(v, str) and INCIDENT.match(v) is not None,
        "origin": _is_str, "public_key": _is_str, "entries": _is_u64, "excerpt": lambda v: isinstance(v, bool),
        "files": _list_of(_is_str), "evidence": lambda v: isinstance(v, list), "policy_sha256": _is_str,
    }
    if form != FORMAT_1:
        fields.update({"record_sha256": _is_str, "proofs_sha256?": _is_str})
    _shape(MANIFEST, manifest, fields)
    for item in manifest["evidence"]:
        _shape(MANIFEST, item, listing)
    return manifest


def parse_proofs(data):
    proofs = canonical_json(PROOFS, data)
    _shape(PROOFS, proofs, {"inclusion": lambda v: isinstance(v, list), "consistency?": lambda v: isinstance(v, dict)})
    for proof in proofs["inclusion"]:
        _shape(PROOFS, proof, {"seq": _is_u64, "path": _list_of(_is_hex)})
    if "consistency" in proofs:
        _shape(PROOFS, proofs["consistency"], {"size": _is_u64, "root": _is_hex, "proof": _list_of(_is_hex)})
    return proofs


def parse_line(number, line):
    """One line of record.jsonl: canonical JSON of an entry whose hash covers the rest."""
    def at_line(reason):
        return Broken(RECORD, f"line {number}: {reason}")
    try:
        entry = json.loads(line.decode("utf-8"))
        canonical = jcs(entry).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError) as error:
        raise at_line(f"not JSON: {error}") from None
    if canonical != line:
        raise at_line("not in canonical JSON form (RFC 8785)")
    if not isinstance(entry, dict):
        raise at_line("not a JSON object")
    if sorted(entry) != ENTRY_FIELDS:
        raise at_line(f"the fields are {sorted(entry)}, not those of an entry {ENTRY_FIELDS}")
    seq = entry["seq"]
    if not _is_u64(seq) or seq == 0:
        raise at_line("seq is not a positive integer")
    checks = {"v": lambda v: v == 1 and _is_u64(v), "at": lambda v: isinstance(v, str) and AT.match(v) is not None,
              "actor": _is_str, "kind": _is_str, "body": lambda v: isinstance(v, dict), "prev": _is_hex, "hash": _is_hex}
    for field in ("v", "at", "actor", "kind", "body", "prev", "hash"):
        if not checks[field](entry[field]):
            raise Broken(RECORD, f"field '{field}' is not valid", seq)
    unsigned = {k: v for k, v in entry.items() if k != "hash"}
    computed = hashlib.sha256(jcs(unsigned).encode("utf-8")).hexdigest()
    if computed != entry["hash"]:
        raise Broken(RECORD, f"the hash does not match the entry's contents (stored {entry['hash']}, computed {computed})", seq)
    return entry


# --- Verifying -------------------------------------------------------------------------------

def read_key(text):
    if os.path.isfile(text):
        with open(text, encoding="utf-8") as handle:
            text = handle.read()
    key = b64_canonical(text.strip(" \t\n\r"))
    if key is None or len(key) != 32:
        raise ValueError("--key: give the deployment's public key (base64 of 32 bytes) or a file holding it")
    return key


def verify(path, key=None, earlier=None):
    """Verifies the bundle at `path`; returns what it shows, or raises Broken."""
    with open(path, "rb") as stream:
        manifest, kept, blobs = read_archive(stream)
    format_1 = manifest["format"] == FORMAT_1
    if manifest["format"] != FORMAT and not format_1:
        raise Broken(MANIFEST, f"format '{manifest['format']}' is neither {FORMAT} nor {FORMAT_1}")
    origin, incident = manifest["origin"], manifest["incident"]
    key_name = origin.rpartition("/")[0]
    if not key_name or f"{key_name}/{incident}" != origin:
        raise Broken(MANIFEST, "the origin does not name the incident")
    if not KEY_NAME.match(key_name):
        raise Broken(MANIFEST, "the origin is not sitrep/<deployment UUID, lower-case, hyphenated>/<incident>")
    bundle_key = b64_canonical(manifest["public_key"])
    if bundle_key is None or len(bundle_key) != 32:
        raise Broken(MANIFEST, "public_key: not an Ed25519 public key (base64 of 32 bytes)")
    if key is not None and key != bundle_key:
        raise Broken("--key", f"the bundle is signed with {manifest['public_key']}, not with the key given")

    try:
        c_origin, size, root, signed_manifest, body, signatures = parse_checkpoint(CHECKPOINT, kept[CHECKPOINT])
    except UnicodeDecodeError:
        raise Broken(CHECKPOINT, "not UTF-8") from None
    if len(signatures) != 1:
        raise Broken(CHECKPOINT, "a bundle's checkpoint carries exactly one signature")
    if c_origin != origin:
        raise Broken(CHECKPOINT, "its origin is not the manifest's")
    verify_signature(CHECKPOINT, body, signatures, key_name, bundle_key)
    if format_1:
        # Signed before checkpoints had the line; one that has it is not what format 1 wrote.
        if signed_manifest is not None:
            raise Broken(CHECKPOINT, "a bundle of format 1 has no 'bundle.json sha256' line in its checkpoint")
    elif signed_manifest is None:
        raise Broken(CHECKPOINT, "it has no 'bundle.json sha256' line: the signature does not cover the manifest")
    elif hashlib.sha256(kept[MANIFEST]).digest() != signed_manifest:
        raise Broken(MANIFEST, "its SHA-256 is not the one the checkpoint signs")

    # The members the manifest binds by their SHA-256 (in format 1 only the policy, unsigned).
    if hashlib.sha256(kept[POLICY]).hexdigest() != manifest["policy_sha256"]:
        raise Broken(POLICY, "its SHA-256 is not the manifest's policy_sha256")
    if not format_1:
        if hashlib.sha256(kept[RECORD]).hexdigest() != manifest["record_sha256"]:
            raise Broken(RECORD, "its SHA-256 is not the manifest's record_sha256")
        proofs_sha256 = hashlib.sha256(kept[PROOFS]).hexdigest() if PROOFS in kept else None
        if proofs_sha256 != manifest.get("proofs_sha256"):
            raise Broken(PROOFS, "its SHA-256 is not the manifest's proofs_sha256, or one is missing")

    text = kept[RECORD]
    if text and not text.endswith(b"\n"):
        raise Broken(RECORD, "the last line does not end with a newline")
    lines = [parse_line(i + 1, line) for i, line in enumerate(text[:-1].split(b"\n"))] if text else []
    if len(lines) != manifest["entries"]:
        raise Broken(RECORD, f"{len(lines)} entries, but the manifest says {manifest['entries']}")
    if not lines:
        raise Broken(RECORD, "the record is empty")
    before = None
    for entry in lines:
        seq = entry["seq"]
        if seq > size:
            raise Broken(RECORD, f"beyond the checkpoint's size {size}", seq)
        if before is not None:
            if seq <= before["seq"]:
                raise Broken(RECORD, "the entries are not in increasing seq order", seq)
            if seq == before["seq"] + 1 and entry["prev"] != before["hash"]:
                raise Broken(RECORD, "'prev' is not the hash of the entry before", seq)
            if entry["at"] < before["at"]:
                raise Broken(RECORD, "the time goes backwards", seq)
        if seq == 1:
            if entry["prev"] != "0" * 64:
                raise Broken(RECORD, "the first entry's 'prev' is not all zeros", 1)
            if entry["kind"] != "incident.declared" or entry["body"].get("number") != incident:
                raise Broken(RECORD, f"the first entry does not declare {incident}", 1)
        before = entry

    proofs = parse_proofs(kept[PROOFS]) if PROOFS in kept else None
    leaves = [leaf_hash(bytes.fromhex(entry["hash"])) for entry in lines]
    if manifest["excerpt"]:
        if proofs is None:
            raise Broken(PROOFS, "an excerpt needs proofs.json")
        if len(proofs["inclusion"]) != len(lines):
            raise Broken(PROOFS, "there is not exactly one inclusion proof per entry")
        for entry, leaf, proof in zip(lines, leaves, proofs["inclusion"]):
            if proof["seq"] != entry["seq"]:
                raise Broken(PROOFS, f"the proof is for seq {proof['seq']}", entry["seq"])
            path = [bytes.fromhex(h) for h in proof["path"]]
            if not verify_inclusion(entry["seq"] - 1, size, leaf, path, root):
                raise Broken(RECORD, "not in the signed tree: the inclusion proof fails", entry["seq"])
    else:
        if len(lines) != size or lines[-1]["seq"] != size:
            raise Broken(RECORD, f"{len(lines)} entries, but the checkpoint signs a record of {size}")
        if merkle_root(leaves) != root:
            raise Broken(RECORD, "the entries' Merkle root is not the signed root")
        if proofs is not None and (proofs["inclusion"] or "consistency" not in proofs):
            raise Broken(PROOFS, "a full export's proofs.json holds only a consistency proof")
    consistency_from = None
    if proofs is not None and "consistency" in proofs:
        c = proofs["consistency"]
        old_root, proof = bytes.fromhex(c["root"]), [bytes.fromhex(h) for h in c["proof"]]
        if not verify_consistency(c["size"], size, old_root, root, proof):
            raise Broken(PROOFS, "the consistency proof fails")
        if not manifest["excerpt"] and merkle_root(leaves[:c["size"]]) != old_root:
            raise Broken(PROOFS, "its root is not the root of the record's first entries")
        consistency_from = c["size"]

    registered = []
    for entry in lines:
        if entry["kind"] == "evidence.registered":
            b = entry["body"]
            if not (_is_hex(b.get("sha256")) and _is_u64(b.get("size")) and _is_str(b.get("name"))):
                raise Broken(RECORD, "the registration lacks sha256 (64 lower-case hex), size or name", entry["seq"])
            registered.append((b["sha256"], b["size"], b["name"]))
    if [(i["sha256"], i["size"], i["name"]) for i in manifest["evidence"]] != registered:
        raise Broken(MANIFEST, "the evidence listed is not what the entries register")
    files = [MANIFEST, CHECKPOINT, POLICY, RECORD] + ([PROOFS] if proofs is not None else [])
    files += [BLOBS + i["sha256"] for i in manifest["evidence"] if i["included"]]
    if files != manifest["files"]:
        raise Broken(MANIFEST, "the files listed are not the bundle's members")

    extends = None
    if earlier is not None:
        extends = _extends(earlier, manifest, key_name, bundle_key, size, root, leaves, proofs)
    declared = lines[0] if lines[0]["seq"] == 1 else None
    as_declared = None if declared is None else declared["body"].get("policy") == manifest["policy_sha256"]
    not_vouched_for = []
    if format_1:
        # Only the entries are signed: the policy file only where the declaration names its hash.
        not_vouched_for.append(
            "that policy.toml was in force at export (format 1 does not sign it; it is the policy the signed "
            "declaration names)" if as_declared is True else "policy.toml (format 1 does not sign it)")
    missing = sum(1 for i in manifest["evidence"] if not i["included"])
    if missing:
        not_vouched_for.append(f"the contents of {missing} evidence {'file' if missing == 1 else 'files'} not in the "
                               f"bundle (only {'its' if missing == 1 else 'their'} SHA-256 is signed)"
                               + (", nor whether the export left them out (format 1 does not sign that)"
                                  if format_1 else ""))
    if format_1 and manifest["excerpt"]:
        not_vouched_for.append("that the export held no other entries (format 1 does not sign which entries it "
                               "holds: some may have been dropped with their proofs)")
    if format_1 and consistency_from is None:
        not_vouched_for.append("whether the export carried a consistency proof (format 1 does not sign that: one "
                               "may have been dropped)")
    if key is None:
        not_vouched_for.append("whose key signed it (give the deployment's public key with --key)")
    return {
        "ok": True, "format": manifest["format"], "incident": incident, "origin": origin, "key_name": key_name,
        "public_key": manifest["public_key"], "key_given": key is not None, "size": size,
        "root": base64.b64encode(root).decode("ascii"), "entries": len(lines), "excerpt": manifest["excerpt"],
        "evidence": len(manifest["evidence"]), "blobs": blobs, "policy_sha256": manifest["policy_sha256"],
        "policy_as_declared": as_declared,
        "consistency_from": consistency_from, "extends_earlier": extends, "not_vouched_for": not_vouched_for,
    }


def _extends(text, manifest, key_name, key, size, root, leaves, proofs):
    """The earlier checkpoint's record must be a prefix of this one."""
    where = "earlier checkpoint"
    try:
        origin, old_size, old_root, _, body, signatures = parse_checkpoint(where, text)
    except Broken as broken:
        raise Broken(where, broken.reason) from None
    verify_signature(where, body, signatures, key_name, key)
    if origin != manifest["origin"]:
        raise Broken(where, f"it is for {origin}, not {manifest['origin']}")
    if old_size > size:
        raise Broken(where, f"the record shrank: the earlier checkpoint signs {old_size} entries, this bundle {size}")
    if old_size == 0 or old_size == size:
        if old_size and old_root != root:
            raise Broken(where, f"the record was rewritten: two different roots for {size} entries")
        return old_size
    if not manifest["excerpt"]:
        if merkle_root(leaves[:old_size]) != old_root:
            raise Broken(where, f"the record was rewritten: its first {old_size} entries are not those the earlier checkpoint signs")
        return old_size
    c = (proofs or {}).get("consistency")
    if c is not None and c["size"] == old_size:
        if bytes.fromhex(c["root"]) == old_root:
            return old_size
        raise Broken(where, f"the record was rewritten: the bundle proves another root for its first {old_size} entries")
    raise Broken(where, f"an excerpt needs a consistency proof from size {old_size} (export it with since {old_size})")


def main(argv=None):
    parser = argparse.ArgumentParser(description="Verify a sitrep export bundle offline.")
    parser.add_argument("bundle")
    parser.add_argument("--key", help="the deployment's public key, base64 or a file holding it")
    parser.add_argument("--checkpoint", help="an earlier checkpoint of the same record")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if Ed25519PublicKey is None:
        print("verify_bundle.py: needs the 'cryptography' package: python3 -m pip install cryptography", file=sys.stderr)
        return 2
    try:
        key = read_key(args.key) if args.key else None
        earlier = None
        if args.checkpoint:
            with open(args.checkpoint, "rb") as handle:
                earlier = handle.read().decode("utf-8", errors="strict")
        result = verify(args.bundle, key, earlier)
    except Broken as broken:
        if args.json:
            print(json.dumps({"ok": False, "file": broken.file, "seq": broken.seq, "reason": broken.reason}))
        else:
            print("BROKEN: " + broken.line().encode("unicode_escape").decode("ascii"))
        return 1
    except (OSError, ValueError) as error:
        print(f"verify_bundle.py: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        what = f"an excerpt of {result['entries']} of {result['size']} entries" if result["excerpt"] \
            else f"{result['entries']} entries, the whole record"
        whose = "the key given" if result["key_given"] else f"the key in the bundle ({result['public_key']})"
        old = " (format 1: the signature covers the entries, not the manifest)" \
            if result["format"] == FORMAT_1 else ""
        line = (f"ok: {result['incident']}{old}: {what}; signed by {result['key_name']} with {whose}; "
                f"evidence listed: {result['evidence']}, files matching their SHA-256: {result['blobs']}")
        if result["not_vouched_for"]:
            line += "; not vouched for: " + "; ".join(result["not_vouched_for"])
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
