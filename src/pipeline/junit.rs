//! JUnit XML as pytest `--junitxml` writes it: `<testsuites>` holding `<testsuite>`s (or one
//! bare `<testsuite>`), each holding `<testcase>`s whose `<failure>`, `<error>` or `<skipped>`
//! child gives their status.
//!
//! Counts come from the test cases; a suite with no test case element falls back to its own
//! attributes (some runners write only those). A lane passes only if at least one test ran and
//! none failed or errored: a collection error (pytest reports it as an errored test case) and
//! "no tests ran" are `error`.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde::Serialize;

use crate::error::{Result, invalid};
use crate::kinds::Outcome;

/// Test suites nested deeper than this are refused (pytest writes one level).
pub const MAX_NESTING: usize = 64;

/// The counts of one JUnit report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub suites: u64,
    pub tests: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
    pub duration_ms: u64,
}

impl Report {
    /// `passed` only when tests ran and none failed or errored; no tests is `error`.
    pub fn outcome(&self) -> Outcome {
        if self.errors > 0 || self.tests == 0 {
            Outcome::Error
        } else if self.failures > 0 {
            Outcome::Failed
        } else {
            Outcome::Passed
        }
    }
}

#[derive(Default)]
struct Suite {
    cases: u64,
    declared: Report,
    counted: Report,
}

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>> {
    for a in e.attributes() {
        let a = a.map_err(|err| invalid(format!("malformed JUnit XML attribute: {err}")))?;
        if a.key.as_ref() == name {
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| invalid(format!("malformed JUnit XML attribute: {err}")))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

fn count_attr(e: &BytesStart<'_>, name: &str) -> Result<u64> {
    match attr(e, name)? {
        None => Ok(0),
        Some(v) => v.trim().parse().map_err(|_| {
            invalid(format!(
                "JUnit testsuite attribute {name}=\"{v}\" is not a count"
            ))
        }),
    }
}

fn seconds_attr(e: &BytesStart<'_>) -> Result<u64> {
    match attr(e, "time")? {
        None => Ok(0),
        Some(v) => {
            let s: f64 = v
                .trim()
                .parse()
                .map_err(|_| invalid(format!("JUnit time=\"{v}\" is not a number of seconds")))?;
            if !s.is_finite() || s < 0.0 {
                return Err(invalid(format!("JUnit time=\"{v}\" is out of range")));
            }
            Ok((s * 1000.0).round() as u64)
        }
    }
}

/// Parses a JUnit XML report.
///
/// # Errors
/// [`crate::Error::Invalid`] for malformed XML (with its byte position), a root element that
/// is not `testsuites` or `testsuite`, or bad counts.
pub fn parse(text: &str) -> Result<Report> {
    let mut reader = Reader::from_str(text);
    let mut total = Report::default();
    let mut suites: Vec<Suite> = Vec::new();
    let mut in_case = false;
    let mut case_status: Option<&'static str> = None;
    let mut root_seen = false;
    loop {
        let at = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| invalid(format!("malformed JUnit XML at byte {at}: {e}")))?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            // Every attribute must be well-formed XML, read or not (an undefined entity is a
            // malformed report, not a name to ignore).
            for a in e.attributes() {
                let a =
                    a.map_err(|err| invalid(format!("malformed JUnit XML at byte {at}: {err}")))?;
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|err| invalid(format!("malformed JUnit XML at byte {at}: {err}")))?;
            }
            let name = e.name();
            let name = name.as_ref();
            if !root_seen {
                if name != "testsuites" && name != "testsuite" {
                    return Err(invalid(format!(
                        "not a JUnit report: the root element is <{}>",
                        name
                    )));
                }
                root_seen = true;
            }
            match name {
                "testsuite" => {
                    let declared = Report {
                        suites: 1,
                        tests: count_attr(&e, "tests")?,
                        failures: count_attr(&e, "failures")?,
                        errors: count_attr(&e, "errors")?,
                        skipped: count_attr(&e, "skipped")?,
                        duration_ms: seconds_attr(&e)?,
                    };
                    if suites.len() >= MAX_NESTING {
                        return Err(invalid(format!(
                            "JUnit test suites nest deeper than {MAX_NESTING} at byte {at}"
                        )));
                    }
                    suites.push(Suite {
                        declared,
                        ..Suite::default()
                    });
                    if empty {
                        close_suite(&mut suites, &mut total);
                    }
                }
                "testcase" => {
                    if let Some(s) = suites.last_mut() {
                        s.cases += 1;
                        s.counted.tests += 1;
                    } else {
                        total.tests += 1;
                    }
                    in_case = !empty;
                    case_status = None;
                }
                // The first status element of a test case decides it.
                "failure" | "error" | "skipped" if in_case && case_status.is_none() => {
                    case_status = Some(match name {
                        "failure" => "failure",
                        "error" => "error",
                        _ => "skipped",
                    });
                }
                _ => {}
            }
            continue;
        }
        match event {
            Event::End(e) => match e.name().as_ref() {
                "testcase" => {
                    if let Some(status) = case_status.take() {
                        let r = match suites.last_mut() {
                            Some(s) => &mut s.counted,
                            None => &mut total,
                        };
                        match status {
                            "failure" => r.failures += 1,
                            "error" => r.errors += 1,
                            _ => r.skipped += 1,
                        }
                    }
                    in_case = false;
                }
                "testsuite" => close_suite(&mut suites, &mut total),
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err(invalid(
            "not a JUnit report: no testsuites or testsuite element",
        ));
    }
    if !suites.is_empty() {
        return Err(invalid("malformed JUnit XML: a testsuite is not closed"));
    }
    Ok(total)
}

fn close_suite(suites: &mut Vec<Suite>, total: &mut Report) {
    let Some(s) = suites.pop() else { return };
    let duration_ms = s.declared.duration_ms;
    let r = if s.cases == 0 { s.declared } else { s.counted };
    total.suites += 1;
    total.tests += r.tests;
    total.failures += r.failures;
    total.errors += r.errors;
    total.skipped += r.skipped;
    total.duration_ms += duration_ms;
}
