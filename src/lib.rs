//! Portcullis: a self-hosted API token service and authenticating gateway.
#![forbid(unsafe_code)]

pub mod clock;
pub mod domain;
pub mod store;
pub mod token;
