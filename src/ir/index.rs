//! Temporary stand-in; replaced by the real index.
use crate::ir::model::{Institution, IrSnapshot};
pub struct IrIndex {
    snapshot: IrSnapshot,
}
impl IrIndex {
    pub fn build(snapshot: IrSnapshot) -> Self {
        Self { snapshot }
    }
    pub fn len(&self) -> usize {
        self.snapshot.institutions.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn institutions(&self) -> &[Institution] {
        &self.snapshot.institutions
    }
}
