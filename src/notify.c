/* placeholder: notify */
