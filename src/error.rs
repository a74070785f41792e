//! The error of the operations that the API, the UI and the command line share: input that
//! breaks a rule (each field with its message), or what the store says.

use crate::domain::FieldErrors;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<FieldErrors> for Error {
    fn from(errors: FieldErrors) -> Self {
        Self::Invalid(errors)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
