-- WS-Security evidence: the exact signed bytes of a message and its receipt, so that a
-- receipt can be re-verified years later. One row per message and direction ('out': we sent
-- it and received the receipt; 'in': we received it and answered the receipt).
CREATE TABLE evidence (
    message_id   TEXT NOT NULL,
    direction    TEXT NOT NULL,
    -- the SOAP envelope (MIME root part) exactly as sent or received
    envelope     BYTEA NOT NULL,
    -- JSON: the signed references [{uri, digest_alg, digest (base64)}], attachment digests
    -- over the compressed (decrypted) octets
    refs         TEXT NOT NULL,
    -- the receipt exactly as received or sent (NULL until there is one)
    receipt      BYTEA,
    -- DER of the peer's signing certificate: the receipt's signer ('out'), the message's ('in')
    peer_cert    BYTEA,
    -- 'verified', or why verification failed
    verification TEXT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (message_id, direction)
);
