//! Application start-up: builds the store, IR index, validators and listeners.
