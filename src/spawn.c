/* placeholder: spawn */
