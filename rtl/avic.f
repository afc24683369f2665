// avic-cosim RTL file list (order matters: package first). Top: avic_top.
rtl/avic_pkg.sv
rtl/avic_ipi_sender.sv
rtl/avic_irq_eval.sv
rtl/avic_core.sv
rtl/avic_top.sv
