//! Portcullis: a self-hosted API token service and authenticating gateway.
#![forbid(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod http;
pub mod issue;
pub mod password;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod token;
pub mod web;
