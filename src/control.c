/* placeholder: control */
