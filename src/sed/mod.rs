//! SEDs: hardened XML reading, XSD validation pool, SED/BUC catalogue, business rules.
