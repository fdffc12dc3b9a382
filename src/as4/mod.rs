//! ebMS3/AS4 messages: header model, SOAP 1.2 envelope, MIME, receipts, error signals, P-Modes. Pure: bytes in, values out.
