// A second implementation of the port contract for tb/byo.rs: the bundled RTL behind a wrapper
// that reads IsRunning before the IRR update. Paths are relative to this file.
// Top: reordered_top
+incdir+../../rtl/
../../rtl/avic_pkg.sv
../../rtl/avic_ipi_sender.sv
../../rtl/avic_irq_eval.sv
../../rtl/avic_core.sv
../../rtl/avic_top.sv
reordered_top.sv
