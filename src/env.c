/* placeholder: env */
