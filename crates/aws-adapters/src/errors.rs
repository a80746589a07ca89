//! The one mapping from AWS SDK errors to the reconciler's [`ErrorKind`].
//!
//! Every operation has its own generated error enum, but the retry policy only cares about the
//! service's error *code*, so this maps by code (via `ProvideErrorMetadata::code`, the same
//! trait for Kinesis and CloudWatch), with the HTTP status and the kind of transport failure as
//! fallbacks. One function, one table: a new code is handled once for every call.
//!
//! One code needs its message too: Kinesis's `LimitExceededException` is both a *rate* ("Rate
//! exceeded for stream …": retry after a pause) and a *hard quota* (more than 10
//! `UpdateShardCount` calls in a rolling 24 h: "… exceeds the maximum number of UpdateShardCount
//! operations …"; the account's shard limit: "This request would exceed the shard limit for the
//! account …", which the emulator words "… the configured shard limit …"). Retrying a quota 12
//! times only delays the fallback, so [`kind_for`] reads the message for it ([`names_a_quota`]).

use std::error::Error as StdError;

use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use reconciler::{ErrorKind, PortError};

/// Converts a failed SDK call into a [`PortError`] of the one [`ErrorKind`] its code maps to.
pub(crate) fn port_error<E>(call: &'static str, stream: Option<&str>, err: SdkError<E>) -> PortError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let kind = match &err {
        SdkError::ServiceError(_) => {
            kind_for(err.code(), err.raw_response().map(|r| r.status().as_u16()), err.message())
        }
        // A request that took too long would take as long again: callers that can split it do.
        SdkError::TimeoutError(_) => ErrorKind::TimedOut,
        // Connection failures and responses we could not parse (often an HTML 5xx page from a
        // proxy) are worth trying again.
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => ErrorKind::Transient,
        // The request could not even be built: a missing or malformed input.
        SdkError::ConstructionFailure(_) => ErrorKind::InvalidArgument,
        _ => ErrorKind::Other,
    };
    // The service's own message, else the innermost cause ("tcp connect error: Connection
    // refused"): the layers above it repeat it with wrappers that help no reader.
    let message = match err.message() {
        Some(message) => message.to_owned(),
        None => root_cause(&err),
    };
    let port_error = PortError::new(call, kind, message);
    match stream {
        Some(stream) => port_error.with_stream(stream),
        None => port_error,
    }
}

fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Whether a `LimitExceeded` message names a hard quota (see the module documentation) rather
/// than a rate. A message that says "rate" is a rate whatever else it says.
fn names_a_quota(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    if message.contains("rate exceeded") || message.contains("rate limit") {
        return false;
    }
    ["shard limit", "maximum number of", "rolling 24", "24-hour", "24 hour", "per day"]
        .iter()
        .any(|quota| message.contains(quota))
}

/// The kind of a service error, from its code (Kinesis uses `…Exception`, CloudWatch's query
/// and CBOR protocols use bare names or `…Fault`), its message where the code is ambiguous
/// (`LimitExceeded`), or, for unknown codes, its HTTP status.
pub(crate) fn kind_for(code: Option<&str>, status: Option<u16>, message: Option<&str>) -> ErrorKind {
    // Defensive: some protocols qualify the code with a namespace (`ns#Code`) or a suffix (`Code:…`).
    let code = code.map(|c| c.rsplit('#').next().unwrap_or(c)).map(|c| c.split(':').next().unwrap_or(c));
    match code.unwrap_or_default() {
        "ThrottlingException"
        | "Throttling"
        | "ThrottledException"
        | "TooManyRequestsException"
        | "ProvisionedThroughputExceededException"
        | "RequestLimitExceeded"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "KMSThrottlingException"
        | "SlowDown" => ErrorKind::Throttled,
        "LimitExceededException" | "LimitExceeded" | "LimitExceededFault" => {
            if message.is_some_and(names_a_quota) {
                ErrorKind::QuotaExceeded
            } else {
                ErrorKind::LimitExceeded
            }
        }
        "ResourceInUseException" | "ConcurrentModificationException" => ErrorKind::ResourceInUse,
        "ResourceNotFoundException" | "ResourceNotFound" | "NotFoundException" | "NotFound" => {
            ErrorKind::NotFound
        }
        "ResourceAlreadyExistsException" | "AlreadyExistsException" | "AlreadyExists" => {
            ErrorKind::AlreadyExists
        }
        "InvalidArgumentException"
        | "ValidationException"
        | "ValidationError"
        | "InvalidParameterValue"
        | "InvalidParameterValueException"
        | "InvalidParameterCombination"
        | "InvalidParameterCombinationException"
        | "InvalidParameterInput"
        | "MissingParameter"
        | "MissingRequiredParameterException"
        | "InvalidFormatFault"
        | "InvalidNextToken"
        | "SerializationException" => ErrorKind::InvalidArgument,
        "AccessDeniedException"
        | "AccessDenied"
        | "KMSAccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "ExpiredToken"
        | "ExpiredTokenException" => ErrorKind::AccessDenied,
        // A ListShards page token older than 300 s: listing again from the start fixes it.
        "ExpiredNextTokenException" => ErrorKind::Transient,
        "InternalFailure"
        | "InternalFailureException"
        | "InternalServiceError"
        | "InternalServiceFault"
        | "InternalServiceException"
        | "InternalError"
        | "InternalServerError"
        | "ServiceUnavailable"
        | "ServiceUnavailableException" => ErrorKind::Transient,
        "RequestTimeout" | "RequestTimeoutException" => ErrorKind::TimedOut,
        _ => match status {
            Some(429) => ErrorKind::Throttled,
            Some(403) => ErrorKind::AccessDenied,
            Some(404) => ErrorKind::NotFound,
            Some(s) if s >= 500 => ErrorKind::Transient,
            _ => ErrorKind::Other,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(code: &str, status: u16, expected: ErrorKind) {
        assert_eq!(kind_for(Some(code), Some(status), None), expected, "{code} / {status}");
    }

    #[test]
    fn kinesis_codes_map_to_kinds() {
        check("LimitExceededException", 400, ErrorKind::LimitExceeded);
        check("ResourceInUseException", 400, ErrorKind::ResourceInUse);
        check("ResourceNotFoundException", 400, ErrorKind::NotFound);
        check("ProvisionedThroughputExceededException", 400, ErrorKind::Throttled);
        check("InvalidArgumentException", 400, ErrorKind::InvalidArgument);
        check("AccessDeniedException", 400, ErrorKind::AccessDenied);
        check("ExpiredNextTokenException", 400, ErrorKind::Transient);
    }

    #[test]
    fn cloudwatch_codes_map_to_kinds() {
        check("LimitExceeded", 400, ErrorKind::LimitExceeded);
        check("LimitExceededFault", 400, ErrorKind::LimitExceeded);
        check("Throttling", 400, ErrorKind::Throttled);
        check("ResourceNotFound", 404, ErrorKind::NotFound);
        check("InvalidParameterValue", 400, ErrorKind::InvalidArgument);
        check("InternalServiceFault", 500, ErrorKind::Transient);
    }

    #[test]
    fn namespaced_codes_are_recognised() {
        check("com.amazonaws.cloudwatch#LimitExceededFault", 400, ErrorKind::LimitExceeded);
        check("ThrottlingException:http://internal", 400, ErrorKind::Throttled);
    }

    #[test]
    fn unknown_codes_fall_back_to_the_http_status() {
        check("SomethingNew", 503, ErrorKind::Transient);
        check("SomethingNew", 429, ErrorKind::Throttled);
        check("SomethingNew", 400, ErrorKind::Other);
        assert_eq!(kind_for(None, None, None), ErrorKind::Other);
    }
}
