use super::*;
use crate::cmd::compare::{Host, OtherCpu, Settings};
use crate::experiment::Strategy;
use crate::explain::CauseCounts;

/// Two runs: threads-mutex, late through its lock on a busy host; async, never late.
pub(in crate::cmd::compare) fn made_up() -> Comparison {
    let mut causes = CauseCounts::default();
    causes.late_beats[Cause::Strategy.index()] = 4;
    causes.explained_ns[Cause::Strategy.index()] = 180_000_000;
    causes.late_beats[Cause::Cpu.index()] = 1;
    causes.explained_ns[Cause::Cpu.index()] = 2_500_000;
    causes.explained_ns[Cause::Wake.index()] = 500_000;
    let mutex = Figures {
        beats: 5,
        completed: true,
        causes,
        other_cpu: Some(OtherCpu { other_processes_cores: 0.93, steal_cores: 0.1 }),
        ..Figures::empty(Strategy::ThreadsMutex)
    };
    let calm = Figures {
        beats: 200,
        completed: true,
        other_cpu: Some(OtherCpu { other_processes_cores: 0.02, steal_cores: 0.0 }),
        ..Figures::empty(Strategy::Async)
    };
    Comparison {
        settings: Settings {
            duration_seconds: 2.0,
            period_seconds: 0.01,
            size_elements: 2_000_000,
            schedule: "absolute".into(),
            timer_slack_seconds: None,
            priority: None,
            control: true,
        },
        host: Host { kernel: "6.1".into(), cpus: 2, cpu_model: "a CPU".into() },
        interrupted: false,
        strategies: vec![mutex, calm],
    }
}

#[test]
fn the_dominant_cause_and_what_others_used() {
    let comparison = made_up();
    let text = text(&comparison);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].ends_with("ctrl p50     cause"), "{text}");
    assert!(lines[1].starts_with("threads-mutex") && lines[1].ends_with("strategy"), "{text}");
    assert!(lines[2].starts_with("async") && lines[2].ends_with(" -"), "no late beat, no cause: {text}");
    assert!(lines[4].starts_with("CPU used by other processes during each run (2 CPUs"), "{text}");
    assert_eq!(
        lines[5],
        "  threads-mutex  others used 0.93 cores, steal 0.10 cores: a busy host, so these figures include its contention"
    );
    assert_eq!(lines[6], "  async          others used 0.02 cores");

    let json = json(&comparison);
    let (mutex, calm) = (&json["strategies"][0], &json["strategies"][1]);
    assert_eq!((&mutex["dominant_cause"], &calm["dominant_cause"]), (&json!("strategy"), &serde_json::Value::Null));
    assert_eq!(mutex["late_beats"], 5);
    assert_eq!(mutex["other_processes_cores"], 0.93);
    let explained = mutex["lateness_explained_seconds_by_cause"].as_object().expect("an object");
    let names: Vec<&str> = explained.keys().map(String::as_str).collect();
    assert_eq!(names, Cause::ALL.map(Cause::name), "every cause, in the waterfall's order");
    assert_eq!(explained["strategy"], 0.18);
    assert_eq!(explained["throttled"], 0.0);
    assert_eq!(mutex["late_beats_by_cause"]["cpu"], 1);
    assert_eq!(calm["lateness_explained_seconds_by_cause"]["wake"], 0.0);

    let markdown = markdown(&comparison);
    assert!(markdown.contains(" dominant cause |") && markdown.contains("| strategy |\n"), "{markdown}");
    assert!(markdown.contains("\n* async          others used 0.02 cores\n"), "{markdown}");
    let blind = Comparison {
        strategies: comparison.strategies.iter().map(|f| Figures { other_cpu: None, ..f.clone() }).collect(),
        ..comparison.clone()
    };
    assert!(others_lines(&blind).is_empty(), "no /proc/stat, no line");
}

#[test]
fn json_names_end_in_a_unit() {
    for column in COLUMNS {
        let name = column.json;
        let unit = ["_seconds", "_per_second", "beats", "_slots", "_checks", "_passes", "_cores", "completed"];
        // A name is its own unit.
        assert!(unit.iter().any(|u| name.ends_with(u)) || name == "dominant_cause", "{name}");
    }
}
