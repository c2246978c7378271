/* placeholder: listener */
