// avic-cosim RTL file list (order matters: package first). Top: avic_top.
// Paths are relative to the repository (Verilator -f); +incdir+ finds avic_assert.svh and
// avic_top_ports.svh.
+incdir+rtl
rtl/avic_pkg.sv
rtl/avic_ipi_sender.sv
rtl/avic_irq_eval.sv
rtl/avic_core.sv
rtl/avic_top.sv
