"""A small command line around the `as4` package with the EESSI profile, for sedgate's Rust
interop test (tests/wssec_interop.rs). Every command writes its results to files; the exit
code is 0 only when the peer accepted what it was given.

  send            build a signed (optionally encrypted) EESSI UserMessage
  receive         receive a message, write the signal (receipt or eb:Error) it answers with
  receive-signal  check a signal against an exchange saved by `send`
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from as4 import (
    AS4BaseCredentials,
    AS4ExternalParty,
    AS4InternalCredentials,
    AS4InternalParty,
    AS4LocalPrivateKey,
    AS4PartyIdentity,
    AS4ReceivingExchange,
    AS4SendingExchange,
    ReceiptVerificationError,
    SecurityPolicy,
    pinned_certificates,
)
from as4.core.references import AS4References

from eessi_profile import PARTY_ID_TYPE, EessiAS4Profile, EessiBuilderArgs, EessiPart


def certificate(path: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def local_party(args) -> AS4InternalParty:
    key = serialization.load_pem_private_key(Path(args.key).read_bytes(), password=None)
    return AS4InternalParty(
        identity=AS4PartyIdentity(party_id=args.party, party_type=PARTY_ID_TYPE),
        credentials=AS4InternalCredentials(certificate=certificate(args.cert), private_key=AS4LocalPrivateKey(key)),
    )


def send(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    remote = AS4ExternalParty(
        identity=AS4PartyIdentity(party_id=args.to, party_type=PARTY_ID_TYPE),
        credentials=AS4BaseCredentials(certificate=certificate(args.peer_cert)),
    )
    parts = []
    for spec in args.part:
        path, mime, part_type = spec.split(":")
        parts.append(
            EessiPart(
                content_id=f"{Path(path).stem}-{len(parts)}@as4-peer",
                mime_type=mime,
                part_type=part_type,
                content=Path(path).read_bytes(),
            )
        )
    references = AS4References(message_id=args.message_id) if args.message_id else AS4References()
    exchange = AS4SendingExchange(
        profile=EessiAS4Profile, local_party=local_party(args), remote_party=remote, identifiers=references
    )
    headers, body = exchange.build(
        parts[0].content,
        EessiBuilderArgs(
            from_party=args.party,
            to_party=args.to,
            conversation_id=args.conversation,
            parts=parts,
            encrypt=args.encrypt,
            properties=[tuple(p.split("=", 1)) for p in args.property],
        ),
    )
    (out / "body.bin").write_bytes(body)
    (out / "headers.json").write_text(json.dumps(headers))
    (out / "exchange.json").write_text(exchange.model_dump_json())
    (out / "parts.json").write_text(
        json.dumps({p.content_id: hashlib.sha256(p.content).hexdigest() for p in parts})
    )
    return 0


def receive(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    headers = json.loads(Path(args.headers).read_text())
    policy = SecurityPolicy(
        signer_resolver=pinned_certificates(certificate(args.peer_cert)),
        encrypt_required=args.encrypt_required,
    )
    exchange = AS4ReceivingExchange(profile=EessiAS4Profile, local_party=local_party(args))
    exchange.receive(headers, Path(args.body).read_bytes(), security_policy=policy)
    signal_headers, signal = exchange.build_signal()
    (out / "signal.xml").write_bytes(signal)
    (out / "signal-headers.json").write_text(json.dumps(signal_headers))
    message = exchange.message
    error = message.parse_error if message is not None else None
    result = {
        "state": str(exchange.state),
        "message_id": exchange.message_id,
        "error": None if error is None else {"code": error.error_code, "detail": str(error.detail)},
        "parts": {
            cid: hashlib.sha256(data).hexdigest() for cid, data in (message.decrypted_data if message else {}).items()
        },
        "signer": None
        if message is None or message.signer_certificate is None
        else message.signer_certificate.subject.rfc4514_string(),
    }
    (out / "result.json").write_text(json.dumps(result, indent=1))
    return 0 if exchange.successful else 1


def receive_signal(args) -> int:
    exchange = AS4SendingExchange.restore(Path(args.exchange).read_text(), local_party(args))
    try:
        exchange.receive_signal(Path(args.signal).read_bytes())
        outcome = {"state": str(exchange.state), "error": None}
    except ReceiptVerificationError as exception:
        outcome = {"state": str(exchange.state), "error": str(exception)}
    print(json.dumps(outcome))
    return 0 if exchange.successful else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("send", "receive", "receive-signal"):
        command = commands.add_parser(name)
        command.add_argument("--key", required=True, help="our PKCS#8 PEM private key")
        command.add_argument("--cert", required=True, help="our PEM certificate")
        command.add_argument("--party", required=True, help="our EESSI party id, e.g. NO:NAVAT07")
        if name == "send":
            command.add_argument("--peer-cert", required=True)
            command.add_argument("--to", required=True)
            command.add_argument("--conversation", default="P_BUC_01-interop")
            command.add_argument("--message-id")
            command.add_argument("--part", action="append", required=True, help="FILE:MIME:PartType")
            command.add_argument("--encrypt", action="store_true")
            command.add_argument("--property", action="append", default=[], help="NAME=VALUE (eb:MessageProperties)")
            command.add_argument("--out", required=True)
        elif name == "receive":
            command.add_argument("--peer-cert", required=True)
            command.add_argument("--headers", required=True)
            command.add_argument("--body", required=True)
            command.add_argument("--encrypt-required", action="store_true")
            command.add_argument("--out", required=True)
        else:
            command.add_argument("--exchange", required=True)
            command.add_argument("--signal", required=True)
    args = parser.parse_args()
    return {"send": send, "receive": receive, "receive-signal": receive_signal}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
