//! The inbound /as4 endpoint: peer identity, dedup, validation, inbox, receipt.
