//! Why a beat was late (issue 17): each scenario provokes one cause against
//! the real binary and checks the explanation names it.
