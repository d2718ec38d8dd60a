module battlescope.local/newidmap

go 1.26
