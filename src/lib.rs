//! Portcullis: a self-hosted API token service and authenticating gateway.
#![forbid(unsafe_code)]

pub mod auth;
pub mod clock;
pub mod config;
pub mod domain;
pub mod password;
pub mod store;
pub mod token;
