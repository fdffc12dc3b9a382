//! Back-office REST API: messages, inbox, institutions, cases, catalogue.
