/* placeholder: cmdline */
