"""An EESSI profile for the `as4` package (0.2.0), which ships only a Peppol profile.

EESSI (eDelivery AS4 as the EESSI access points use it): several payload parts, the SED first
(PartType SED, then Attachment), every part gzip-compressed, EESSI party id type, role, service
and action, encryption optional (per P-Mode). Builders reuse the Peppol profile's generic
pieces (Messaging, Body, signature, EncryptedKey); the Peppol-only parts (SBDH, single payload,
fixed roles) are replaced.
"""

import gzip
import os
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any, cast
from uuid import uuid4

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree
from pydantic import BaseModel, ConfigDict

from as4.core.common import AS4ExternalParty, AS4InternalParty
from as4.core.context import AS4ParseContext
from as4.core.message import AS4Message
from as4.core.profiles import AS4Profile
from as4.core.receipt import AS4Receipt
from as4.core.references import AS4References
from as4.errors import PayloadPartNotFoundException, SoapPartNotFoundException
from as4.models.common import NAMESPACES
from as4.models.ebms.message_info import MessageId, MessageInfo, Timestamp
from as4.models.ebms.user_message import (
    Action,
    CollaborationInfo,
    ConversationId,
    MessageProperties,
    PartInfo,
    PartProperties,
    PartyFrom,
    PartyId,
    PartyInfo,
    PartyTo,
    PayloadInfo,
    Property,
    Role,
    Service,
    UserMessage,
)
from as4.models.soap.envelope import Body, Envelope
from as4.models.soap.header import Header
from as4.models.wsse.security import Security
from as4.profiles.peppol.message import PeppolAS4Message
from as4.utils.mime_handler import MIMEHandler

# The EESSI values of eDelivery AS4 (DESIGN.md; AS4.NET's EESSI conformance P-Modes).
PARTY_ID_TYPE = "urn:eu:europa:ec:dgempl:eessi:ir"
ROLE_INSTITUTION = "urn:eu:europa:ec:dgempl:eessi:ir:institution"
SERVICE = "BusinessMessaging"
SERVICE_TYPE = "urn:eu:europa:ec:dgempl:eessi"
ACTION_SEND = "Send"


class EessiPart(BaseModel):
    content_id: str
    mime_type: str
    part_type: str  # "SED" or "Attachment"
    content: bytes


class EessiBuilderArgs(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    namespace_map: dict[str, str] = NAMESPACES
    from_party: str
    to_party: str
    conversation_id: str
    parts: list[EessiPart]
    encrypt: bool = False
    # eb:MessageProperties (name, value): the EESSI header values BucType, SedType, CdmVersion,
    # originalSender, finalRecipient that a gateway needs to deliver a SED.
    properties: list[tuple[str, str]] = []


def _party(cls: type[PartyFrom] | type[PartyTo], value: str) -> Any:
    return cls(party_id=PartyId(value=value, type_value=PARTY_ID_TYPE), role=Role(value=ROLE_INSTITUTION))


class EessiAS4Message(PeppolAS4Message):
    """Peppol's message class minus the SBDH, with EESSI headers and several parts."""

    @classmethod
    def process(
        cls,
        fields: dict[str, Any],
        parse_context: AS4ParseContext,
        soap_envelope_element: etree._Element,
        mime_attachments: dict[str, bytes],
    ) -> dict[str, Any]:
        # The generic AS4 processing only: EESSI has no SBDH.
        return AS4Message.process.__func__(  # type: ignore[attr-defined]
            cls, fields, parse_context, soap_envelope_element, mime_attachments
        )

    @classmethod
    def get_decrypted_data(cls, parse_context, security, mime_attachments):
        # as4 0.2.0 only hands on decrypted parts; unencrypted EESSI parts pass through as signed.
        if security.encrypted_key is None and not parse_context.security_policy.encrypt_required:
            return dict(mime_attachments)
        return super().get_decrypted_data(parse_context, security, mime_attachments)

    @classmethod
    def eessi_user_message(cls, builder_args: EessiBuilderArgs, references: AS4References) -> UserMessage:
        return UserMessage(
            message_info=MessageInfo(
                timestamp=Timestamp(value=datetime.now(UTC)),
                message_id=MessageId(value=references.message_id),
            ),
            party_info=PartyInfo(
                party_from=_party(PartyFrom, builder_args.from_party),
                party_to=_party(PartyTo, builder_args.to_party),
            ),
            collaboration_info=CollaborationInfo(
                service=Service(value=SERVICE, type_value=SERVICE_TYPE),
                action=Action(value=ACTION_SEND),
                conversation_id=ConversationId(value=builder_args.conversation_id),
            ),
            message_properties=MessageProperties(
                properties=[Property(name=name, value=value) for name, value in builder_args.properties]
            )
            if builder_args.properties
            else None,
            payload_info=PayloadInfo(
                part_info=[
                    PartInfo(
                        href=f"cid:{part.content_id}",
                        part_properties=PartProperties(
                            properties=[
                                Property(name="MimeType", value=part.mime_type),
                                Property(name="CompressionType", value="application/gzip"),
                                Property(name="PartType", value=part.part_type),
                            ]
                        ),
                    )
                    for part in builder_args.parts
                ]
            ),
        )

    @classmethod
    def build_message(  # type: ignore[override]
        cls,
        payload: bytes,
        *,
        local_party: AS4InternalParty,
        remote_party: AS4ExternalParty,
        builder_args: EessiBuilderArgs,
        references: AS4References,
    ) -> "EessiAS4Message":
        compressed = {part.content_id: gzip.compress(part.content) for part in builder_args.parts}
        references.attachment_id_encrypted_data_id_map = {cid: f"ED-{uuid4()}" for cid in compressed}
        messaging = cls.get_messaging(references, cls.eessi_user_message(builder_args, references))
        body = Body(body_id=references.body_id)
        signed_info = cls.get_signed_info(references, messaging, body, compressed)
        signature = cls.get_signature(local_party, cast(Any, builder_args), references, signed_info)
        tokens = [cls.get_local_binary_security_token(local_party, references)]
        wire = dict(compressed)
        encrypted_key = encrypted_data = None
        if builder_args.encrypt:
            session_key = AESGCM.generate_key(bit_length=128)
            for cid, data in compressed.items():
                nonce = os.urandom(12)
                wire[cid] = nonce + AESGCM(session_key).encrypt(nonce, data, None)
            wrapped = remote_party.credentials.rsa_public_key.encrypt(
                session_key,
                padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=b""),
            )
            tokens.insert(0, cls.get_remote_binary_security_token(remote_party, references))
            encrypted_key = cls.get_encrypted_key(references, wrapped)
            encrypted_data = cls.get_encrypted_data(references)
        envelope = Envelope(
            header=Header(
                security=Security(
                    binary_security_tokens=tokens,
                    encrypted_key=encrypted_key,
                    encrypted_data=encrypted_data,
                    signature=signature,
                ),
                messaging=messaging,
            ),
            body=body,
        )
        return cls(
            soap_envelope=envelope,
            message_id=references.message_id,
            messaging_id=references.messaging_id,
            mime_attachments=wire,
            decrypted_data={part.content_id: part.content for part in builder_args.parts},
        )


class EessiAS4Receipt(AS4Receipt):
    pass


class EessiAS4Profile(AS4Profile[EessiAS4Message, EessiAS4Receipt, EessiBuilderArgs]):
    @classmethod
    def get_profile_name(cls) -> str:
        return "eessi"

    @classmethod
    def message_class(cls) -> type[EessiAS4Message]:
        return EessiAS4Message

    @classmethod
    def receipt_class(cls) -> type[EessiAS4Receipt]:
        return EessiAS4Receipt

    @classmethod
    def build_message(cls, payload, *, local_party, remote_party, builder_args, references=None):
        return EessiAS4Message.build_message(
            payload,
            local_party=local_party,
            remote_party=remote_party,
            builder_args=builder_args,
            references=references or AS4References(),
        )

    @classmethod
    def unpack_message(cls, payload: bytes) -> tuple[bytes, dict[str, bytes]]:
        """The SOAP root part and every other part by Content-ID (all of them, not only the first)."""
        message = cast(EmailMessage, MIMEHandler.parser.parsebytes(payload))
        if message.get_content_type() == "application/soap+xml":
            raise PayloadPartNotFoundException(detail="EESSI messages carry their payloads as MIME parts")
        parts = [cast(EmailMessage, p) for p in message.iter_parts()]
        if not parts or parts[0].get_content_type() != "application/soap+xml":
            raise SoapPartNotFoundException()
        soap = parts[0].get_payload(decode=True)
        if not isinstance(soap, bytes):
            raise SoapPartNotFoundException(detail="SOAP part carries no decodable content")
        attachments: dict[str, bytes] = {}
        for part in parts[1:]:
            content_id = MIMEHandler.get_content_id(part)
            data = part.get_payload(decode=True)
            if not content_id or not isinstance(data, bytes):
                raise PayloadPartNotFoundException(detail="A payload part has no Content-ID or no content")
            attachments[content_id] = data
        return soap, attachments

    @classmethod
    def parse_receipt(cls, payload: bytes, expected_signer: x509.Certificate) -> EessiAS4Receipt:
        return EessiAS4Receipt.parse(payload, expected_signer)
