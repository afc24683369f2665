# Run by `gtkwave -S` once the save file is loaded (tb/gtkwave/wave-check.sh): checks what GTKWave
# shows against the save file and prints `WAVE-CHECK OK` or `WAVE-CHECK FAIL: ...` lines.
#
#   WAVE_GTKW    the .gtkw that was loaded (to count its traces and read its [timestart])
#   WAVE_EXPECT  Tcl list of pairs: glob over "group/subgroup/name", value at the primary marker
#
# Checked: every trace of the save file is shown (GTKWave skips signals it cannot find without
# an error), enum traces show names (their translate filter loaded), the primary and the first
# named marker are set, the view starts at [timestart], and the expected values.

set fails {}
set gtkw $::env(WAVE_GTKW)
set expect_n 0
set timestart -1
set f [open $gtkw r]
while {[gets $f line] >= 0} {
    if {[regexp {^[-+A-Za-z]} $line]} { incr expect_n }
    regexp {^\[timestart\] ([0-9]+)} $line -> timestart
}
close $f

set n [gtkwave::getTotalNumTraces]
if {$n != $expect_n} { lappend fails "$n traces shown, $expect_n in $gtkw" }

set stack {}
set values [dict create]
for {set i 0} {$i < $n} {incr i} {
    set name [gtkwave::getTraceNameFromIndex $i]
    set flags [gtkwave::getTraceFlagsFromIndex $i]
    if {[expr {$flags & 0x800000}]} { lappend stack $name; continue }
    if {[expr {$flags & 0x1000000}]} { set stack [lrange $stack 0 end-1]; continue }
    if {[expr {$flags & 0x200}]} { continue }
    set path [join [concat $stack [list $name]] /]
    set val [gtkwave::getTraceValueAtMarkerFromIndex $i]
    dict set values $path $val
    puts "WAVE-CHECK TRACE $path = $val"
    if {[expr {$flags & 0x2000}] && [regexp {^[0-9]+$} $val]} {
        lappend fails "$path shows $val: its translate filter did not load"
    }
}

set marker [gtkwave::getMarker]
if {$marker < 0} { lappend fails "no primary marker" }
set a [gtkwave::getNamedMarker A]
if {$a < 0} { lappend fails "no named marker A" }
set start [gtkwave::getWindowStartTime]
if {$timestart >= 0 && $start != $timestart} {
    lappend fails "view starts at $start, save file says $timestart"
}
puts "WAVE-CHECK MARKER $marker A $a WINDOW $start [gtkwave::getWindowEndTime]"

if {[info exists ::env(WAVE_EXPECT)]} {
    foreach {pat want} $::env(WAVE_EXPECT) {
        set hits [dict keys $values $pat]
        if {[llength $hits] == 0} { lappend fails "no trace matches $pat"; continue }
        foreach h $hits {
            set got [dict get $values $h]
            if {$got ne $want} { lappend fails "$h = $got at the marker, expected $want" }
        }
    }
}

if {[llength $fails] == 0} {
    puts "WAVE-CHECK OK"
} else {
    foreach m $fails { puts "WAVE-CHECK FAIL: $m" }
}
flush stdout
