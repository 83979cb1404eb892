//! Over-the-wire tests of the PeopleSoft Integration Broker emulator: one
//! test binary, one module per concern.

mod peoplesoft {
    pub mod support;

    mod auth;
    mod ci;
    mod qas;
    mod setup;
    mod wsdl;
}
