//! Canned HTTP responses in place of the network, for a plugin under test
//! (`polyplug test`'s `<case>.http.json`): local host emulation, so an
//! author needs no staging service.

/// One canned response: what a request to its URL answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpMock {
    pub status: u16,
    pub body: Vec<u8>,
}

impl HttpMock {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            body: body.into(),
        }
    }
}
