//! Usage accounting, which studios bill by: per attempt, the worker-seconds
//! (measured by the coordinator, lease start to its end, so a worker cannot
//! bill more than it held the task), the backend and device, the samples of
//! accepted results, and the energy where the worker's hardware reports it;
//! summed per job, user or project and priced per device-hour.

use rusqlite::{params, Connection};

use super::auth::Principal;
use super::error::ApiError;
use super::protocol::{Page, PageQuery};

/// What the rows are summed by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    Job,
    User,
    #[default]
    Project,
}

/// Which attempts to count.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct Filter {
    #[serde(default)]
    pub by: GroupBy,
    pub project: Option<String>,
    pub user: Option<String>,
    pub job: Option<i64>,
    /// Attempts started at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Rows per page (at most [`PageQuery::MAX`]) and how many rows to skip.
    pub limit: Option<u32>,
    pub after: Option<i64>,
}

/// The usage of one job, user or project on one backend and device.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    /// The job id, user or project.
    pub key: String,
    pub backend: String,
    pub device: String,
    /// Finished attempts (accepted, failed, expired or cancelled).
    pub attempts: u64,
    pub worker_seconds: f64,
    /// Samples of accepted results (pixels × samples per pixel).
    pub samples: u64,
    /// Joules, summed over the attempts that measured them; absent where none did.
    pub energy_j: Option<f64>,
    /// How many of `attempts` measured their energy.
    pub energy_measured: u64,
}

/// One page of the usage `who` may see (its projects; admins every project).
/// `next` is the number of rows to skip for the following page.
pub fn usage(conn: &Connection, who: &Principal, filter: &Filter) -> Result<Page<Usage>, ApiError> {
    let page = PageQuery { limit: filter.limit, after: filter.after };
    let (limit, offset) = (page.limit(), page.after.unwrap_or(0).max(0));
    let visible = who.visible_projects().map(|p| serde_json::to_string(&p).unwrap_or_default());
    let key = match filter.by {
        GroupBy::Job => "CAST(j.id AS TEXT)",
        GroupBy::User => "j.owner",
        GroupBy::Project => "j.project",
    };
    let sql = format!(
        "SELECT {key}, coalesce(json_extract(w.capabilities, '$.backend.name'), '?'),
                coalesce(json_extract(w.capabilities, '$.backend.device'), '?'),
                count(*), sum(l.ended_ms - l.started_ms), sum(coalesce(l.samples, 0)), sum(l.energy_j), count(l.energy_j)
         FROM leases l JOIN tasks t ON t.id = l.task_id JOIN jobs j ON j.id = t.job_id
              LEFT JOIN workers w ON w.id = l.worker_id
         WHERE l.ended_ms IS NOT NULL AND l.started_ms >= ?1
           AND (?2 IS NULL OR j.project = ?2) AND (?3 IS NULL OR j.owner = ?3) AND (?4 IS NULL OR j.id = ?4)
           AND (?5 IS NULL OR j.project IN (SELECT value FROM json_each(?5)))
         GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 LIMIT ?6 OFFSET ?7"
    );
    let rows = conn
        .prepare(&sql)?
        .query_map(
            params![filter.since_ms.unwrap_or(0), filter.project, filter.user, filter.job, visible, limit + 1, offset],
            |r| {
                Ok(Usage {
                    key: r.get(0)?,
                    backend: r.get(1)?,
                    device: r.get(2)?,
                    attempts: r.get::<_, i64>(3)?.max(0) as u64,
                    worker_seconds: r.get::<_, i64>(4)?.max(0) as f64 / 1e3,
                    samples: r.get::<_, i64>(5)?.max(0) as u64,
                    energy_j: r.get(6)?,
                    energy_measured: r.get::<_, i64>(7)?.max(0) as u64,
                })
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let mut numbered: Vec<(i64, Usage)> = (offset + 1..).zip(rows).collect();
    let more = numbered.len() as i64 > limit;
    numbered.truncate(limit as usize);
    let next = more.then(|| numbered.last().map(|(n, _)| *n)).flatten();
    Ok(Page { items: numbered.into_iter().map(|(_, u)| u).collect(), next })
}

/// Prices per device-hour: `2.5` for every backend, or `cuda=2.5,cpu=0.4`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prices(Vec<(Option<String>, f64)>);

impl std::str::FromStr for Prices {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let price = |v: &str| match v.trim().parse::<f64>() {
            Ok(p) if p.is_finite() && p >= 0.0 => Ok(p),
            _ => Err(format!("\"{v}\" is not a price (a number, 0 or more)")),
        };
        let entries = s.split(',').map(|part| match part.split_once('=') {
            Some((backend, v)) => Ok((Some(backend.trim().to_ascii_lowercase()), price(v)?)),
            None => Ok((None, price(part)?)),
        });
        entries.collect::<Result<_, String>>().map(Prices)
    }
}

impl Prices {
    /// The cost of `usage`, if a price covers its backend.
    pub fn cost(&self, usage: &Usage) -> Option<f64> {
        let backend = usage.backend.to_ascii_lowercase();
        let price = self
            .0
            .iter()
            .find(|(b, _)| b.as_deref().is_some_and(|b| backend.starts_with(b)))
            .or_else(|| self.0.iter().find(|(b, _)| b.is_none()))?;
        Some(usage.worker_seconds / 3600.0 * price.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(backend: &str, seconds: f64) -> Usage {
        Usage {
            key: "p".into(),
            backend: backend.into(),
            device: "d".into(),
            attempts: 1,
            worker_seconds: seconds,
            samples: 0,
            energy_j: None,
            energy_measured: 0,
        }
    }

    #[test]
    fn device_hours_are_priced_per_backend() {
        let prices: Prices = "cuda=2.5, cpu=0.4".parse().unwrap();
        assert_eq!(prices.cost(&usage("cuda", 7200.0)), Some(5.0));
        assert_eq!(prices.cost(&usage("CPU", 1800.0)), Some(0.2));
        assert_eq!(prices.cost(&usage("wgpu", 3600.0)), None, "no price, no cost");
        let flat: Prices = "1.5".parse().unwrap();
        assert_eq!(flat.cost(&usage("wgpu", 3600.0)), Some(1.5));
        assert!("cuda=-1".parse::<Prices>().is_err() && "cheap".parse::<Prices>().is_err());
    }
}
