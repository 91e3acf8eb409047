module github.com/wharfedi/wharf/bench/writertrace

go 1.26.8

require golang.org/x/exp v0.0.0-20261120182113-8801fbdfac81
