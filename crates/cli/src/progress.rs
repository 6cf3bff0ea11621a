//! The progress bar of a run's checks, drawn on standard error when it is a
//! terminal.

use std::sync::Mutex;

use authwarden_pipeline::Progress;

/// An indicatif bar behind [`Progress`]; draws nothing unless enabled and
/// standard error is a terminal.
pub struct Bar {
    enabled: bool,
    bar: Mutex<Option<indicatif::ProgressBar>>,
}

impl Bar {
    /// A bar that draws when `enabled` and standard error is a terminal.
    pub fn new(enabled: bool) -> Bar {
        use std::io::IsTerminal;
        Bar {
            enabled: enabled && std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }
}

impl Progress for Bar {
    fn checks_started(&self, total: usize) {
        if !self.enabled {
            return;
        }
        let bar = indicatif::ProgressBar::new(total as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} checking [{bar:30}] {pos}/{len} {elapsed}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        *self.bar.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
    }

    fn check_done(&self) {
        if let Some(b) = &*self.bar.lock().unwrap_or_else(|e| e.into_inner()) {
            b.inc(1);
        }
    }

    fn checks_finished(&self) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            b.finish_and_clear();
        }
    }
}
