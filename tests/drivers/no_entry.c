/*
 * A shared object that is not a driver: it exports no DriverEntry
 * (test_fx_driverload expects -ENOEXEC).
 */
int not_a_driver(void);

int not_a_driver(void)
{
    return 42;
}
