//! The zone data: records by owner, the apexes the data is authoritative
//! for, and the lookup of one name and type (RFC 1034 section 4.3.2 without
//! delegations, wildcards per RFC 4592).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use authwarden_api::dns::normalize_name;
use authwarden_api::{Rdata, RecordType};

use crate::error::{Location, ZoneError};
use crate::name::{is_under, parent};
use crate::parser::parse_file;

/// One resource record of a zone file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRecord {
    /// The owner, lower-case without trailing dot (the root is `""`).
    pub name: String,
    /// The TTL in seconds (`$TTL`, the last explicit TTL, or 3600).
    pub ttl: u32,
    /// The type.
    pub rtype: RecordType,
    /// The data. SOA records are [`Rdata::Other`] in presentation format
    /// (`mname. rname. serial refresh retry expire minimum`); SPF (type 99)
    /// records are [`Rdata::Txt`] like TXT.
    pub rdata: Rdata,
    /// Where the record was written.
    pub location: Location,
}

/// What the zone data says about one name and type, before following a
/// CNAME (see [`crate::ZoneResolver`] for whole answers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneLookup {
    /// The name is not at or below any apex of the zone: the zone data has
    /// no say.
    Outside,
    /// Records of the type (possibly synthesised from a wildcard).
    Records(Vec<Rdata>),
    /// The name is an alias: the target, lower-case without trailing dot.
    Cname(String),
    /// The name exists (or is an empty non-terminal) without that type.
    NoData,
    /// The name does not exist.
    NxDomain,
}

/// Records loaded from one or more zone files.
///
/// The zones a file is authoritative for are the owners of its SOA records;
/// a file without SOA is authoritative for its default origin and every
/// `$ORIGIN` it sets. A file with neither (every name absolute, as in the
/// fragment `authwarden plan --format zone` writes) is authoritative for
/// nothing: each of its record sets answers for its name and type, before
/// the zones' data, and every other question goes on as without it. Every record must lie inside one of them. Zone cuts
/// (NS records below an apex) are not treated as delegations: the data
/// below them is answered like any other.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    apexes: BTreeSet<String>,
    nodes: BTreeMap<String, Vec<ZoneRecord>>,
    /// Names that have descendants (so exist even without records).
    ancestors: BTreeSet<String>,
    /// Record sets of files without SOA and `$ORIGIN` (all names absolute,
    /// e.g. the fragment of `authwarden plan --format zone`): they answer
    /// for exactly their (name, type) and claim nothing else, before the
    /// zones' own data.
    rrsets: BTreeMap<(String, RecordType), Vec<ZoneRecord>>,
}

impl Zone {
    /// An empty zone, authoritative for nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a zone file's text. `file_name` is used in error messages;
    /// `default_origin` is the origin before any `$ORIGIN` (with or without
    /// trailing dot).
    pub fn parse(
        text: &str,
        file_name: &str,
        default_origin: Option<&str>,
    ) -> Result<Zone, ZoneError> {
        let parsed = parse_file(text, file_name, default_origin)?;
        let apexes: BTreeSet<String> = if parsed.soa_owners.is_empty() {
            parsed.origins.into_iter().collect()
        } else {
            parsed.soa_owners.into_iter().collect()
        };
        if apexes.is_empty() {
            // Record sets only: every name absolute (a relative one failed
            // above), authoritative for nothing.
            let mut zone = Zone::default();
            for record in parsed.records {
                if record.rtype == RecordType::CNAME {
                    return Err(ZoneError::at_location(
                        &record.location,
                        "a file without SOA and $ORIGIN only overrides record sets; a CNAME needs the zone (add `$ORIGIN example.com.` or an SOA record)",
                    ));
                }
                let set = zone
                    .rrsets
                    .entry((record.name.clone(), record.rtype))
                    .or_default();
                if !set.iter().any(|r| r.rdata == record.rdata) {
                    set.push(record);
                }
            }
            return Ok(zone);
        }
        for record in &parsed.records {
            if !apexes.iter().any(|apex| is_under(&record.name, apex)) {
                let list: Vec<String> = apexes.iter().map(|a| crate::name::fqdn(a)).collect();
                return Err(ZoneError::at_location(
                    &record.location,
                    format!(
                        "'{}' is outside the zone(s) this file is authoritative for ({})",
                        crate::name::fqdn(&record.name),
                        list.join(", ")
                    ),
                ));
            }
        }
        let mut zone = Zone {
            apexes,
            ..Zone::default()
        };
        for record in parsed.records {
            zone.insert(record)?;
        }
        Ok(zone)
    }

    /// Reads and parses a zone file (no default origin).
    pub fn load(path: &Path) -> Result<Zone, ZoneError> {
        Zone::load_with_origin(path, None)
    }

    /// Reads and parses a zone file whose origin comes from outside, as
    /// with zone files written for Knot, NSD or BIND (`@` without `$ORIGIN`).
    pub fn load_with_origin(path: &Path, default_origin: Option<&str>) -> Result<Zone, ZoneError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ZoneError::Io {
            file: file.clone(),
            source,
        })?;
        Zone::parse(&text, &file, default_origin)
    }

    /// Reads several zone files and merges them.
    pub fn load_all<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) -> Result<Zone, ZoneError> {
        let mut zone = Zone::new();
        for path in paths {
            zone.merge(Zone::load(path.as_ref())?)?;
        }
        Ok(zone)
    }

    /// Adds another zone's apexes and records; identical records are kept
    /// once. Fails when the result would hold a CNAME beside other data at
    /// one name (the error points at `other`'s record); `self` then holds
    /// part of `other` and should be dropped.
    pub fn merge(&mut self, other: Zone) -> Result<(), ZoneError> {
        self.apexes.extend(other.apexes);
        // A later file's record set replaces an earlier one's.
        self.rrsets.extend(other.rrsets);
        for record in other.nodes.into_values().flatten() {
            self.insert(record)?;
        }
        Ok(())
    }

    fn insert(&mut self, record: ZoneRecord) -> Result<(), ZoneError> {
        let existing = self.nodes.entry(record.name.clone()).or_default();
        if existing
            .iter()
            .any(|r| r.rtype == record.rtype && r.rdata == record.rdata)
        {
            return Ok(());
        }
        let conflict = if record.rtype == RecordType::CNAME {
            existing
                .iter()
                .find(|r| r.rtype != RecordType::CNAME)
                .map(|r| format!("CNAME beside other data ({} at {})", r.rtype, r.location))
                .or_else(|| {
                    existing
                        .iter()
                        .find(|r| r.rtype == RecordType::CNAME)
                        .map(|r| format!("second CNAME at this name (first at {})", r.location))
                })
        } else {
            existing
                .iter()
                .find(|r| r.rtype == RecordType::CNAME)
                .map(|r| format!("other data beside the CNAME at {}", r.location))
        };
        if let Some(reason) = conflict {
            return Err(ZoneError::at_location(
                &record.location,
                format!(
                    "{reason}: a name with a CNAME may have no other records (RFC 1034 section 3.6.2)"
                ),
            ));
        }
        let mut up = parent(&record.name);
        while let Some(p) = up {
            if !self.ancestors.insert(p.to_owned()) {
                break;
            }
            up = parent(p);
        }
        existing.push(record);
        Ok(())
    }

    /// The apexes (zone names) the data is authoritative for, lower-case
    /// without trailing dot.
    pub fn apexes(&self) -> impl Iterator<Item = &str> {
        self.apexes.iter().map(String::as_str)
    }

    /// All records, ordered by owner name.
    pub fn records(&self) -> impl Iterator<Item = &ZoneRecord> {
        self.nodes
            .values()
            .flatten()
            .chain(self.rrsets.values().flatten())
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.nodes.values().map(Vec::len).sum::<usize>()
            + self.rrsets.values().map(Vec::len).sum::<usize>()
    }

    /// True when the zone holds no record.
    pub fn is_empty(&self) -> bool {
        self.nodes.values().all(Vec::is_empty) && self.rrsets.is_empty()
    }

    /// The closest apex at or above `name`, if the zone is authoritative
    /// for it.
    pub fn apex_of(&self, name: &str) -> Option<&str> {
        let name = normalize_name(name);
        self.apexes
            .iter()
            .filter(|apex| is_under(&name, apex))
            .max_by_key(|apex| apex.len())
            .map(String::as_str)
    }

    fn exists(&self, name: &str) -> bool {
        self.nodes.contains_key(name) || self.ancestors.contains(name)
    }

    fn answer_at(records: &[ZoneRecord], rtype: RecordType) -> ZoneLookup {
        let data: Vec<Rdata> = records
            .iter()
            .filter(|r| r.rtype == rtype)
            .map(|r| r.rdata.clone())
            .collect();
        if !data.is_empty() {
            return ZoneLookup::Records(data);
        }
        if rtype != RecordType::CNAME {
            let target = records.iter().find_map(|r| match &r.rdata {
                Rdata::Cname(target) if r.rtype == RecordType::CNAME => Some(target.clone()),
                _ => None,
            });
            if let Some(target) = target {
                return ZoneLookup::Cname(target);
            }
        }
        ZoneLookup::NoData
    }

    /// Looks up one name and type in the zone data, without following a
    /// CNAME (a query for type CNAME returns the CNAME record itself).
    pub fn lookup(&self, name: &str, rtype: RecordType) -> ZoneLookup {
        let name = normalize_name(name);
        if let Some(set) = self.rrsets.get(&(name.clone(), rtype)) {
            return ZoneLookup::Records(set.iter().map(|r| r.rdata.clone()).collect());
        }
        let Some(apex) = self.apex_of(&name) else {
            return ZoneLookup::Outside;
        };
        if let Some(records) = self.nodes.get(&name) {
            if !records.is_empty() {
                return Self::answer_at(records, rtype);
            }
        }
        if name == apex || self.exists(&name) {
            return ZoneLookup::NoData;
        }
        // RFC 4592: the closest encloser is the longest existing ancestor;
        // the wildcard below it, if any, answers for the missing name.
        let mut encloser = parent(&name).unwrap_or("");
        while encloser != apex && !encloser.is_empty() && !self.exists(encloser) {
            encloser = parent(encloser).unwrap_or("");
        }
        let wildcard = if encloser.is_empty() {
            "*".to_owned()
        } else {
            format!("*.{encloser}")
        };
        match self.nodes.get(&wildcard) {
            Some(records) if !records.is_empty() => Self::answer_at(records, rtype),
            _ if self.ancestors.contains(&wildcard) => ZoneLookup::NoData,
            _ => ZoneLookup::NxDomain,
        }
    }
}
