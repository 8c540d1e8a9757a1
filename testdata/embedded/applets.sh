#!/bin/sh
# The busybox applets the boot uses, linked in /bin.
echo sh ash mount umount mkdir cat echo printf sleep grep sed awk cut wc tr head \
	ls rm ln cp mv kill killall pidof ps netstat ip ifconfig uname poweroff reboot \
	halt start-stop-daemon seq test [ true false sort uniq dmesg hostname date
